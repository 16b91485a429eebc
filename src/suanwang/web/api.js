// The API with the operator's bearer token. The token is asked for once and kept in this
// browser's localStorage; a link ending in #token=... (what `suanwang up` prints) sets it
// too, and the fragment is removed from the address bar at once (it never reaches the
// server: browsers do not send fragments).

const TOKEN_KEY = "suanwang.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.status = status;
    this.detail = detail;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  localStorage.setItem(TOKEN_KEY, value.trim());
}

export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

export function takeTokenFromHash() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    setToken(decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, String(err));
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

// A 422's detail as one line: "capacity_units.intelligent: must be >= 0".
export function describeError(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (Array.isArray(err.detail)) {
    // the service's own messages already begin with the field ("capacity_units.hpc = ...")
    return err.detail.map((d) => {
      const field = (d.loc ?? []).slice(1).join(".");
      return d.msg.startsWith(field) ? d.msg : `${field}: ${d.msg}`;
    }).join("; ");
  }
  return typeof err.detail === "string" ? err.detail : JSON.stringify(err.detail);
}

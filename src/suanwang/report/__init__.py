"""Reports: the compute statistics bulletin (算力统计公报) with its charts."""

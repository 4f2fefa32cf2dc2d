"""The invoker's webhook client: a keep-alive HTTP/1.1 client on httptools, with the SSRF
guard applied to the address actually connected to. Knows nothing of fires or retries."""

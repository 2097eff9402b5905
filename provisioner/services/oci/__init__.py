"""OCI images: references, a registry v2 client (pull and push), a content store with unpacked layers, layer
application with whiteouts, and image building. Shared by the kubelet (pull) and the operator tool (build,
push); it imports only the standard library, aiohttp and orjson."""

# TURN relay client (RFC 8656) on a STUN codec (RFC 8489): sans-IO cores
# (stun.py, client.py) and a thin asyncio driver on the handset side.

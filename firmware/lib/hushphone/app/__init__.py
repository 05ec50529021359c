# The phone itself: asyncio drivers that own sockets, clocks and audio
# around the sans-IO cores (media session, jitter buffer, the phone application).

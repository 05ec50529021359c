# ZRTP (RFC 6189): end-to-end SRTP keys agreed on the media path, with a
# short authentication string for the users to compare.
#   engine.ZrtpEngine   the sans-IO key agreement (one per call)
#   cache.ZidCache      our ZID and the retained secrets per peer
#   keypool.KeyPool     ephemeral key pairs made while idle
#   packets.is_zrtp     tells ZRTP from RTP on the shared port

# Short authentication string rendering (RFC 6189 §5.1.6) from sasvalue,
# the leftmost 32 bits of sashash.
#  B32:  the leftmost 20 bits as four base-32 characters from the alphabet
#        below (chosen to be unambiguous when read aloud).
#  B256: the leftmost 16 bits as two PGP words, the first byte from the
#        even list, the second from the odd list.
SAS_B32 = "B32 "
SAS_B256 = "B256"

B32_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def render_b32(sas_value):
    bits = (sas_value[0] << 16) | (sas_value[1] << 8) | sas_value[2]  # 24 bits
    bits >>= 4  # keep the leftmost 20
    out = []
    for shift in (15, 10, 5, 0):
        out.append(B32_ALPHABET[(bits >> shift) & 31])
    return "".join(out)


def render_b256(sas_value):
    from hushphone.zrtp.pgpwords import EVEN_WORDS, ODD_WORDS

    return EVEN_WORDS[sas_value[0]] + " " + ODD_WORDS[sas_value[1]]


def render(sas_type, sas_value):
    if sas_type == SAS_B256:
        return render_b256(sas_value)
    return render_b32(sas_value)

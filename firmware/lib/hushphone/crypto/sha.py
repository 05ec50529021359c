# SHA-1 and SHA-256 through hashlib (mbedTLS, hardware SHA on ESP32).
# MicroPython hashers have no copy() and digest() finalises them.
import hashlib


def sha1(data=b""):
    return hashlib.sha1(data).digest()


def sha256(data=b""):
    return hashlib.sha256(data).digest()


def new_sha1():
    return hashlib.sha1()


def new_sha256():
    return hashlib.sha256()

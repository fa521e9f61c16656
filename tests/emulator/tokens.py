"""JWT (RS256) signing/verification for issued access tokens and client assertions."""
import base64
import hashlib
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwtError(Exception):
    pass


def decode_unverified(token):
    try:
        head, body, sig = token.split(".")
        return json.loads(b64u_decode(head)), json.loads(b64u_decode(body)), b64u_decode(sig), f"{head}.{body}".encode()
    except Exception as exc:  # any parse problem is "malformed"
        raise JwtError("malformed") from exc


def verify_signature(public_key, alg, signed, sig):
    try:
        if alg == "RS256":
            public_key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "PS256":  # msal may sign assertions with PS256
            public_key.verify(sig, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                       salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256())
        else:
            raise JwtError(f"unsupported alg {alg}")
    except InvalidSignature as exc:
        raise JwtError("bad signature") from exc


class TokenSigner:
    """The emulator's own token-signing key (published at the jwks_uri)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self.key.public_key().public_numbers()
        self.kid = b64u(hashlib.sha1(str(pub.n).encode()).digest())
        self._cache = {}

    def sign(self, claims):
        head = b64u(json.dumps({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid}))
        body = b64u(json.dumps(claims, separators=(",", ":")))
        sig = self.key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64u(sig)}"

    def verify(self, token):
        """Return the claims of a token this emulator signed (signature only; caller checks exp/aud)."""
        claims = self._cache.get(token)
        if claims is not None:
            return claims
        head, claims, sig, signed = decode_unverified(token)
        if head.get("kid") != self.kid:
            raise JwtError("unknown signing key")
        verify_signature(self.key.public_key(), head.get("alg"), signed, sig)
        if len(self._cache) > 5000:  # bounded memo: verification is the hot path of every request
            self._cache.clear()
        self._cache[token] = claims
        return claims

    def jwks(self):
        pub = self.key.public_key().public_numbers()

        def num(n):
            return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                          "n": num(pub.n), "e": num(pub.e)}]}


def certificate_public_key(der):
    return x509.load_der_x509_certificate(der).public_key()

"""RSA keys as data: the signing key a signer needs, fresh keypairs and cached PEM parsing (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from server.floor.errors import Invalid

KEY_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """What a signer needs: the key id to announce and the private key to sign with."""

    key_id: str
    private_pem: str

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The parsed private key (parsed once per process per key)."""
        return load_private_key(self.private_pem)


def key_id(actor: str) -> str:
    """The id of an actor's key, as Mastodon writes it."""
    return f"{actor}#main-key"


def generate_pem() -> tuple[str, str]:
    """A fresh RSA-2048 keypair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@lru_cache(maxsize=4096)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse a private PEM (cached: parsing costs more than a signature)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Invalid("stored actor key is not an RSA key")
    return key


@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """Parse a public PEM; raise Invalid when it is not an RSA public key."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as error:
        raise Invalid(f"publicKeyPem is not a PEM public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Invalid("publicKeyPem is not an RSA key")
    return key

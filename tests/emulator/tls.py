"""Private CA, TLS server certificate and RSA client certificates (all made at start-up)."""
import datetime
import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(
        now + datetime.timedelta(days=days))


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca_and_server_cert(state_dir):
    """Write ca.pem, server.pem, server-key.pem; return their paths. EC P-256 keeps start-up fast."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (_validity(x509.CertificateBuilder(), 30)
               .subject_name(_name("d365.identity emulator CA")).issuer_name(_name("d365.identity emulator CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder(), 30)
            .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": f"{state_dir}/ca.pem", "cert": f"{state_dir}/server.pem", "key": f"{state_dir}/server-key.pem"}
    with open(paths["ca"], "wb") as f:
        f.write(_pem_cert(ca_cert))
    with open(paths["cert"], "wb") as f:
        f.write(_pem_cert(cert) + _pem_cert(ca_cert))
    with open(paths["key"], "wb") as f:
        f.write(_pem_key(key))
    return paths


def make_client_certificate(cn, path):
    """Self-signed RSA-2048 certificate for a certificate-credential client (msal signs RS256/PS256 with it).

    Writes private key + certificate into one PEM file; returns the DER certificate bytes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (_validity(x509.CertificateBuilder(), 365)
            .subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(_pem_key(key) + _pem_cert(cert))
    return cert.public_bytes(serialization.Encoding.DER)


def load_certificate_der(pem_or_path):
    """Registered client certificates may be given in a scenario as a PEM string or file path."""
    data = pem_or_path
    if "BEGIN CERTIFICATE" not in data:
        with open(data) as f:
            data = f.read()
    cert = x509.load_pem_x509_certificate(data.encode())
    return cert.public_bytes(serialization.Encoding.DER)


def thumbprints(der):
    """x5t (SHA-1) and x5t#S256 (SHA-256) of a DER certificate, as raw digests."""
    return hashlib.sha1(der).digest(), hashlib.sha256(der).digest()

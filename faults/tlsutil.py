"""Certificates for the TLS scenarios, made with the openssl command line into a temp directory:
a CA, a good server certificate for `localhost`, one for another host name, an expired one, and
an unrelated CA the gateway must not accept."""

import os
import ssl
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory):
    os.makedirs(directory, exist_ok=True)
    d = directory

    def path(name):
        return os.path.join(d, name)

    # CAs.
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                 "-days", "30", "-subj", f"/CN=Metrika faults {ca}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 cwd=d)

    def leaf(name, cn, san, ca="ca", days="30", start=None, end=None):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        with open(path(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        if start is None:
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                     "-CAcreateserial", "-out", f"{name}.pem", "-days", days, "-extfile", f"{name}.ext", cwd=d)
        else:
            # `openssl ca` can set explicit validity dates (an already expired certificate).
            os.makedirs(path("ca-db"), exist_ok=True)
            open(path("ca-db/index.txt"), "w").close()
            with open(path("ca-db/serial"), "w") as f:
                f.write("1000\n")
            with open(path("ca.cnf"), "w") as f:
                f.write(f"""[ca]
default_ca = faults
[faults]
dir = {d}
database = {d}/ca-db/index.txt
new_certs_dir = {d}/ca-db
serial = {d}/ca-db/serial
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
""")
            _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.pem", "-keyfile", f"{ca}.key",
                     "-in", f"{name}.csr", "-out", f"{name}.pem", "-startdate", start, "-enddate", end,
                     "-extfile", f"{name}.ext", "-notext", cwd=d)

    leaf("server", "localhost", "DNS:localhost")
    leaf("wronghost", "metrika-wrong.example", "DNS:metrika-wrong.example")
    leaf("expired", "localhost", "DNS:localhost", start="20200101000000Z", end="20200201000000Z")
    for name in os.listdir(d):
        os.chmod(path(name), 0o644 if not os.path.isdir(path(name)) else 0o755)
    return {
        "dir": d,
        "ca": path("ca.pem"),
        "other_ca": path("other-ca.pem"),
        "server_cert": path("server.pem"),
        "server_key": path("server.key"),
        "wronghost_cert": path("wronghost.pem"),
        "wronghost_key": path("wronghost.key"),
        "expired_cert": path("expired.pem"),
        "expired_key": path("expired.key"),
    }


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx

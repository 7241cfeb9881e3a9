#!/usr/bin/env python3
"""A token service for registry tests: the bearer-token flow of the Distribution API.

Issues JWTs (RS256, the signing certificate in the x5c header) that a registry configured with
`auth: token` (realm, service test-registry, issuer test-issuer, rootcertbundle CERT) accepts.
Requests must carry HTTP basic auth with USER:PASSWORD; a token grants what it asks for.
Signing uses the openssl command, so only the standard library is needed.

    token_server.py WORKDIR USER PASSWORD

Writes WORKDIR/key.pem and WORKDIR/cert.pem, listens on 127.0.0.1 on a free port, prints
"listening on http://127.0.0.1:PORT/token" and serves until killed. Each token request is
logged to stderr as "token for SCOPES" (credentials are never logged).
"""
import base64
import http.server
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    work, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
    key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=test-issuer"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True, capture_output=True).stdout
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="tokens"')
                self.end_headers()
                return
            query = urllib.parse.parse_qs(url.query)
            access = []
            for scope in query.get("scope", []):
                for part in scope.split(" "):
                    kind, _, rest = part.partition(":")
                    name, _, actions = rest.rpartition(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
            claims = {"iss": "test-issuer", "sub": user, "aud": query.get("service", [""])[0],
                      "exp": now + 300, "nbf": now - 60, "iat": now, "jti": secrets.token_hex(8), "access": access}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                                       check=True, capture_output=True).stdout
            token = signing_input + "." + b64url(signature)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            print("token for " + " ".join(query.get("scope", [])), file=sys.stderr, flush=True)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/token", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

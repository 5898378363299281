#!/usr/bin/python3
"""An independent JOSE implementation (Debian's python3-jwcrypto) as the peer of
secsf's services: verifies and decrypts what secsf produced, produces what secsf
must accept.

  jose_peer.py verify  JWK_FILE TOKEN_FILE          prints the payload
  jose_peer.py decrypt KEY_PEM_FILE TOKEN_FILE      prints the plaintext
  jose_peer.py sign    KEY_PEM_FILE ALG PAYLOAD     prints a compact JWS
  jose_peer.py encrypt JWK_FILE ALG ENC PAYLOAD     prints a compact JWE
  jose_peer.py jwt     KEY_PEM_FILE CLAIMS_JSON     prints a signed JWT
"""
import sys

from jwcrypto import jwe, jwk, jws, jwt


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    cmd = argv[1]
    if cmd == "verify":
        key = jwk.JWK.from_json(read(argv[2]))
        token = jws.JWS()
        token.deserialize(read(argv[3]).decode().strip())
        token.verify(key)
        sys.stdout.write(token.payload.decode())
    elif cmd == "decrypt":
        key = jwk.JWK.from_pem(read(argv[2]))
        token = jwe.JWE()
        token.deserialize(read(argv[3]).decode().strip())
        token.decrypt(key)
        sys.stdout.write(token.payload.decode())
    elif cmd == "sign":
        key = jwk.JWK.from_pem(read(argv[2]))
        token = jws.JWS(argv[4].encode())
        token.add_signature(key, None, {"alg": argv[3]})
        sys.stdout.write(token.serialize(compact=True))
    elif cmd == "encrypt":
        key = jwk.JWK.from_json(read(argv[2]))
        token = jwe.JWE(argv[5].encode(), protected={"alg": argv[3], "enc": argv[4]})
        token.add_recipient(key)
        sys.stdout.write(token.serialize(compact=True))
    elif cmd == "jwt":
        key = jwk.JWK.from_pem(read(argv[2]))
        token = jwt.JWT(header={"alg": "ES256", "typ": "JWT"}, claims=argv[3])
        token.make_signed_token(key)
        sys.stdout.write(token.serialize())
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)

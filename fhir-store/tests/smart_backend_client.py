"""SMART backend services with real client libraries: the token endpoint found in the FHIR
server's .well-known/smart-configuration, an access token by the client-credentials grant
with a JWT assertion signed by the client's key (authlib's PrivateKeyJWT, ES384), then
reads and searches with the fhirclient package. Prints what it found as one JSON object.

Arguments: FHIR base URL, client id, path of the client's private key (PEM), scopes."""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.models.practitioner import Practitioner
from fhirclient.server import FHIRPermissionDeniedException, FHIRServer
from joserfc.jwk import ECKey

base, client_id, key_path, scopes = sys.argv[1:5]
smart = requests.get(f"{base}/.well-known/smart-configuration", timeout=10).json()
token_endpoint = smart["token_endpoint"]

with open(key_path) as f:
    # authlib reads a PEM text as an RSA key: an EC key is given as a key.
    private_key = ECKey.import_key(f.read())
session = OAuth2Session(
    client_id,
    private_key,
    token_endpoint_auth_method=PrivateKeyJWT(token_endpoint, alg="ES384"),
    scope=scopes,
)
token = session.fetch_token(token_endpoint, grant_type="client_credentials")

server = FHIRServer(None, base_uri=base + "/")
server.session.headers["Authorization"] = f"Bearer {token['access_token']}"
patient = Patient.read("p1", server)
observations = Observation.where({"code": "8867-4"}).perform_resources(server)
try:
    Practitioner.read("pr1", server)
    practitioner = 200
except FHIRPermissionDeniedException as e:
    practitioner = e.response.status_code

print(json.dumps({
    "grant_types": smart.get("grant_types_supported"),
    "token_type": token["token_type"],
    "patient_family": patient.name[0].family,
    "observations": sorted(o.id for o in observations),
    "practitioner_status": practitioner,
}))

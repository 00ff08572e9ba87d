// OpenSSL's X.509 path validation (libcrypto, libssl-dev) for the verifier's EK-certificate
// check: the verifier's own system-library target, so TPMCrypto's COpenSSL stays as it is.
#ifndef VTPM_CX509_SHIM_H
#define VTPM_CX509_SHIM_H

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#endif

# shellcheck shell=bash
# Sourced by the benchmark scripts (bench/more.sh, bench/compare_parent.sh): the TLS 1.3
# baselines' pieces.
#   tls13_suite CIPHER        the TLS 1.3 suite matching a bridge cipher (chachapoly, aesgcm)
#   tls13_conf FILE SUITE     an OpenSSL configuration file forcing TLS 1.3 and SUITE: socat
#                             cannot set TLS 1.3 suites (its "cipher" option is the TLS 1.2
#                             list), so both socat processes run with OPENSSL_CONF=FILE
tls13_suite() {
  case $1 in
    chachapoly) echo TLS_CHACHA20_POLY1305_SHA256;;
    aesgcm) echo TLS_AES_256_GCM_SHA384;;
    *) return 1;;
  esac
}

tls13_conf() {
  cat >"$1" <<CNF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
MaxProtocol = TLSv1.3
Ciphersuites = $2
CNF
}

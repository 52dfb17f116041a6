/*
 * shoal-interop: a Shoal wire protocol v1 client written from Protocol/README.md alone,
 * with protobuf-c (code generated from Protocol/shoal.proto) and OpenSSL.
 *
 * It dials a node, runs the TLS 1.3 mutual authentication and the Hello exchange, then checks
 * Ping, pipelined requests, FindNode, GetChunk (whole and ranged, with SHA-256 verification),
 * FindValue and, optionally, walks a public file's manifest tree (--walk), stores and deletes an
 * object with an owner-signed Delete (--write) and writes a private file sealed with AES-256-GCM
 * (--put-private). Finally it opens further connections that break one rule each and checks that
 * the node answers with the right Error code and closes.
 *
 * Usage: shoal-interop HOST:PORT [--expect-id HEX] [--get HEX] [--walk] [--expect-sha256 HEX]
 *                                [--write] [--put-private FILE] [--timeout SECONDS]
 *                                [--skip-negative] [--verbose] [--test-vectors]
 *
 * Prints one line per check and a summary "interop: N passed, M failed". Exits 0 when every check
 * passed, 1 when one failed, 2 on a usage error.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "shoal.pb-c.h"

/* Limits from Protocol/README.md. */
enum {
    ID_LEN = 32,                       /* NodeID / content ID bytes */
    MAX_FRAME = 9 * 1024 * 1024,       /* largest encoded Frame */
    MAX_CONTACTS = 20,                 /* contacts in one Nodes / ValueResult / StoreAck */
    MAX_PING_PAYLOAD = 64,
    MAX_OBJECT = 8 * 1024 * 1024 + 16, /* largest stored object: 8 MiB chunk + AEAD tag */
    MIN_CHUNK_SIZE = 64 * 1024,
    MAX_CHUNK_SIZE = 8 * 1024 * 1024,
    MAX_MANIFEST_DEPTH = 8,
};

/* Bounds of this client, so a misbehaving node cannot keep it busy forever. */
enum {
    MAX_FRAMES_PER_WAIT = 256, /* frames read while waiting for one response */
    MAX_RANGE_REQUESTS = 64,   /* GetChunk requests for one object */
    MAX_WALK_OBJECTS = 4096,   /* objects fetched while walking a manifest tree */
    PIPELINED = 8,             /* requests sent back to back in the pipelining check */
};

static const char AGENT[] = "shoal-interop-c";
static const unsigned char ALPN[] = {7, 's', 'h', 'o', 'a', 'l', '/', '1'};

/* ------------------------------------------------------------------------------------------ */
/* Reporting */

static int g_passed;
static int g_failed;
static bool g_verbose;

static void pass(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("ok    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    g_passed++;
}

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    g_failed++;
}

static void note(const char *fmt, ...) {
    if (!g_verbose) return;
    va_list ap;
    va_start(ap, fmt);
    printf("      ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

static void hex_encode(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses exactly 64 hex digits into 32 bytes. */
static bool parse_id(const char *text, uint8_t out[ID_LEN]) {
    if (strlen(text) != 2 * ID_LEN) return false;
    for (size_t i = 0; i < ID_LEN; i++) {
        int hi = hex_nibble(text[2 * i]);
        int lo = hex_nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static const char *short_id(const uint8_t *id, size_t len, char buf[17]) {
    if (len < 8) {
        snprintf(buf, 17, "(%zu bytes)", len);
        return buf;
    }
    hex_encode(id, 8, buf);
    return buf;
}

static const char *error_code_name(int code) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&shoal__v1__error_code__descriptor, code);
    if (!v) return "(unknown code)";
    return strncmp(v->name, "ERROR_CODE_", 11) == 0 ? v->name + 11 : v->name;
}

static const char *body_name(const Shoal__V1__Frame *f) {
    switch (f->body_case) {
    case SHOAL__V1__FRAME__BODY_HELLO: return "Hello";
    case SHOAL__V1__FRAME__BODY_PING: return "Ping";
    case SHOAL__V1__FRAME__BODY_PONG: return "Pong";
    case SHOAL__V1__FRAME__BODY_FIND_NODE: return "FindNode";
    case SHOAL__V1__FRAME__BODY_NODES: return "Nodes";
    case SHOAL__V1__FRAME__BODY_FIND_VALUE: return "FindValue";
    case SHOAL__V1__FRAME__BODY_VALUE_RESULT: return "ValueResult";
    case SHOAL__V1__FRAME__BODY_STORE_CHUNK: return "StoreChunk";
    case SHOAL__V1__FRAME__BODY_STORE_ACK: return "StoreAck";
    case SHOAL__V1__FRAME__BODY_GET_CHUNK: return "GetChunk";
    case SHOAL__V1__FRAME__BODY_CHUNK_DATA: return "ChunkData";
    case SHOAL__V1__FRAME__BODY_DELETE: return "Delete";
    case SHOAL__V1__FRAME__BODY_DELETE_ACK: return "DeleteAck";
    case SHOAL__V1__FRAME__BODY_GOSSIP: return "Gossip";
    case SHOAL__V1__FRAME__BODY_ERROR: return "Error";
    default: return "(no body)";
    }
}

/* "Error(CODE: message)" or the body name, for failure messages. */
static const char *describe_frame(const Shoal__V1__Frame *f, char *buf, size_t n) {
    if (f->body_case == SHOAL__V1__FRAME__BODY_ERROR) {
        snprintf(buf, n, "Error(%s: %s) id %llu", error_code_name(f->error->code),
                 f->error->message ? f->error->message : "", (unsigned long long)f->id);
    } else {
        snprintf(buf, n, "%s id %llu", body_name(f), (unsigned long long)f->id);
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Identity: an ephemeral P-256 key and a self-signed certificate, both in memory. */

typedef struct {
    EVP_PKEY *key;
    X509 *cert;
    uint8_t id[ID_LEN];
} Identity;

static bool sha256(const void *data, size_t len, uint8_t out[ID_LEN]) {
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == ID_LEN;
}

/* NodeID = SHA-256 over the DER SubjectPublicKeyInfo (what i2d_PUBKEY writes). */
static bool node_id_of_key(EVP_PKEY *key, uint8_t out[ID_LEN]) {
    int len = i2d_PUBKEY(key, NULL);
    if (len <= 0) return false;
    unsigned char *der = malloc((size_t)len);
    if (!der) return false;
    unsigned char *p = der;
    bool ok = i2d_PUBKEY(key, &p) == len && sha256(der, (size_t)len, out);
    free(der);
    return ok;
}

static bool is_p256(EVP_PKEY *key) {
    if (EVP_PKEY_base_id(key) != EVP_PKEY_EC) return false;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return false;
    return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
#else
    const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(key);
    return ec && EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) == NID_X9_62_prime256v1;
#endif
}

/* A fresh EC key on curve `nid` (P-256 for a real identity) and a self-signed certificate. */
static bool identity_create_on(Identity *me, int nid) {
    memset(me, 0, sizeof *me);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid) == 1 &&
              EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_NAMED_CURVE) == 1 && EVP_PKEY_keygen(ctx, &me->key) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok || !node_id_of_key(me->key, me->id)) return false;

    char cn[2 * ID_LEN + 1];
    hex_encode(me->id, ID_LEN, cn);
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    ok = x && serial && X509_set_version(x, 2) == 1 /* v3 */ &&
         BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL &&
         X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600) != NULL && X509_set_pubkey(x, me->key) == 1;
    if (ok) {
        X509_NAME *name = X509_get_subject_name(x);
        ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1 &&
             X509_set_issuer_name(x, name) == 1 && X509_sign(x, me->key, EVP_sha256()) > 0;
    }
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return false;
    }
    me->cert = x;
    return true;
}

static bool identity_create(Identity *me) { return identity_create_on(me, NID_X9_62_prime256v1); }

/* ------------------------------------------------------------------------------------------ */
/* Connections */

typedef enum {
    IO_OK = 0,
    IO_CLOSED,  /* orderly or abrupt close by the peer */
    IO_TIMEOUT, /* nothing within the read timeout */
    IO_BAD,     /* the peer sent something that breaks the framing or protobuf rules */
} IoStatus;

typedef struct {
    int fd;
    SSL *ssl;
    int timeout;
    const uint8_t *expect_id; /* NULL: accept any server key, report its ID */
    bool peer_seen;
    bool peer_p256;
    bool id_mismatch;
    bool cert_requested; /* the server sent a CertificateRequest: mutual authentication */
    uint8_t peer_id[ID_LEN];
    char last_error[256];
} Conn;

static int g_conn_index = -1;

static const char *io_text(IoStatus st) {
    switch (st) {
    case IO_OK: return "ok";
    case IO_CLOSED: return "the node closed the connection";
    case IO_TIMEOUT: return "timed out waiting for the node";
    case IO_BAD: return "the node sent a malformed frame";
    }
    return "?";
}

/* Runs for every certificate the server presents. Chains are not validated against any CA and
 * expiry is ignored (README "TLS"); what counts is the key: it must be P-256 and, when the caller
 * knows whom it dials, hash to the expected NodeID, otherwise the handshake is aborted. */
static int verify_callback(int preverify_ok, X509_STORE_CTX *store) {
    (void)preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    Conn *c = ssl ? SSL_get_ex_data(ssl, g_conn_index) : NULL;
    if (!c) return 0;
    if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
    if (!key || !node_id_of_key(key, c->peer_id)) return 0;
    c->peer_seen = true;
    c->peer_p256 = is_p256(key);
    if (!c->peer_p256) return 0;
    if (c->expect_id && memcmp(c->expect_id, c->peer_id, ID_LEN) != 0) {
        c->id_mismatch = true;
        return 0;
    }
    return 1;
}

static void message_callback(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
                             void *arg) {
    (void)version;
    (void)ssl;
    Conn *c = arg;
    if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 1) return;
    if (((const uint8_t *)buf)[0] == SSL3_MT_CERTIFICATE_REQUEST) c->cert_requested = true;
}

static SSL_CTX *make_tls_context(const Identity *me) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 && SSL_CTX_use_certificate(ctx, me->cert) == 1 &&
              SSL_CTX_use_PrivateKey(ctx, me->key) == 1 && SSL_CTX_check_private_key(ctx) == 1 &&
              SSL_CTX_set_alpn_protos(ctx, ALPN, sizeof ALPN) == 0;
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    return ctx;
}

static void record_ssl_error(Conn *c, const char *what) {
    unsigned long e = ERR_peek_last_error();
    char detail[200] = "";
    if (e) ERR_error_string_n(e, detail, sizeof detail);
    snprintf(c->last_error, sizeof c->last_error, "%s%s%s", what, e ? ": " : "", detail);
    ERR_clear_error();
}

static int tcp_connect(const char *host, const char *port, int timeout, char *why, size_t whylen) {
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        /* Every read and write (and connect, on Linux) is bounded by the timeout. */
        struct timeval tv = {.tv_sec = timeout, .tv_usec = 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) snprintf(why, whylen, "cannot connect to %s:%s: %s", host, port, strerror(last_errno));
    return fd;
}

/* TCP connect and TLS 1.3 handshake. On failure, `why` says what went wrong. */
static bool conn_open(Conn *c, SSL_CTX *ctx, const char *host, const char *port, const uint8_t *expect_id, int timeout,
                      char *why, size_t whylen) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout = timeout;
    c->expect_id = expect_id;
    c->fd = tcp_connect(host, port, timeout, why, whylen);
    if (c->fd < 0) return false;
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set_ex_data(c->ssl, g_conn_index, c) != 1) {
        snprintf(why, whylen, "cannot create a TLS session");
        return false;
    }
    SSL_set_msg_callback(c->ssl, message_callback);
    SSL_set_msg_callback_arg(c->ssl, c);
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r != 1) {
        char peer[2 * ID_LEN + 1], want[2 * ID_LEN + 1];
        if (c->id_mismatch) {
            hex_encode(c->peer_id, ID_LEN, peer);
            hex_encode(expect_id, ID_LEN, want);
            snprintf(why, whylen, "server certificate key hashes to %s, expected NodeID %s; handshake aborted", peer,
                     want);
        } else if (c->peer_seen && !c->peer_p256) {
            snprintf(why, whylen, "server certificate key is not ECDSA P-256; handshake aborted");
        } else {
            int e = SSL_get_error(c->ssl, r);
            record_ssl_error(c, "TLS handshake failed");
            snprintf(why, whylen, "%s (SSL error %d%s)", c->last_error, e,
                     e == SSL_ERROR_WANT_READ ? ", timed out" : "");
        }
        return false;
    }
    if (SSL_version(c->ssl) != TLS1_3_VERSION) {
        snprintf(why, whylen, "negotiated %s, expected TLSv1.3", SSL_get_version(c->ssl));
        return false;
    }
    if (!c->peer_seen) {
        snprintf(why, whylen, "the server presented no certificate");
        return false;
    }
    return true;
}

static void conn_close(Conn *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort close_notify */
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
}

static IoStatus tls_read_exact(Conn *c, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > INT_MAX) want = INT_MAX;
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(c->ssl, buf + got, (int)want);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        int saved = errno;
        switch (e) {
        case SSL_ERROR_ZERO_RETURN: return IO_CLOSED;
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: return IO_TIMEOUT; /* blocking socket: SO_RCVTIMEO expired */
        case SSL_ERROR_SYSCALL:
            if (saved == EAGAIN || saved == EWOULDBLOCK) return IO_TIMEOUT;
            snprintf(c->last_error, sizeof c->last_error, "read: %s", saved ? strerror(saved) : "end of stream");
            return IO_CLOSED;
        default: record_ssl_error(c, "TLS read"); return IO_CLOSED;
        }
    }
    return IO_OK;
}

static bool tls_write_all(Conn *c, const uint8_t *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        if (want > INT_MAX) want = INT_MAX;
        ERR_clear_error();
        int r = SSL_write(c->ssl, buf + done, (int)want);
        if (r <= 0) {
            record_ssl_error(c, "TLS write");
            return false;
        }
        done += (size_t)r;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Framing: uvarint length, then one protobuf Frame. */

static size_t put_uvarint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static bool send_raw(Conn *c, const uint8_t *bytes, size_t len) { return tls_write_all(c, bytes, len); }

static bool send_frame(Conn *c, const Shoal__V1__Frame *f) {
    size_t len = shoal__v1__frame__get_packed_size(f);
    if (len > MAX_FRAME) {
        snprintf(c->last_error, sizeof c->last_error, "refusing to send a %zu-byte frame", len);
        return false;
    }
    uint8_t *buf = malloc(len + 10);
    if (!buf) return false;
    size_t p = put_uvarint(buf, len);
    shoal__v1__frame__pack(f, buf + p);
    bool ok = tls_write_all(c, buf, p + len);
    free(buf);
    note("sent %s id %llu (%zu bytes)", body_name(f), (unsigned long long)f->id, p + len);
    return ok;
}

static IoStatus recv_frame(Conn *c, Shoal__V1__Frame **out) {
    *out = NULL;
    uint64_t len = 0;
    for (int i = 0;; i++) {
        if (i == 10) {
            snprintf(c->last_error, sizeof c->last_error, "frame length prefix longer than 10 bytes");
            return IO_BAD;
        }
        uint8_t b;
        IoStatus st = tls_read_exact(c, &b, 1);
        if (st != IO_OK) return st;
        if (i == 9 && b > 1) {
            snprintf(c->last_error, sizeof c->last_error, "frame length prefix over 64 bits");
            return IO_BAD;
        }
        len |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    if (len > MAX_FRAME) {
        snprintf(c->last_error, sizeof c->last_error, "the node announced a %llu-byte frame, over the %d-byte limit",
                 (unsigned long long)len, MAX_FRAME);
        return IO_BAD;
    }
    uint8_t *buf = malloc(len ? (size_t)len : 1);
    if (!buf) return IO_BAD;
    IoStatus st = tls_read_exact(c, buf, (size_t)len);
    if (st != IO_OK) {
        free(buf);
        return st;
    }
    *out = shoal__v1__frame__unpack(NULL, (size_t)len, buf);
    free(buf);
    if (!*out) {
        snprintf(c->last_error, sizeof c->last_error, "%llu bytes that are not a protobuf Frame",
                 (unsigned long long)len);
        return IO_BAD;
    }
    note("received %s id %llu (%llu bytes)", body_name(*out), (unsigned long long)(*out)->id, (unsigned long long)len);
    return IO_OK;
}

static bool is_response(const Shoal__V1__Frame *f) {
    switch (f->body_case) {
    case SHOAL__V1__FRAME__BODY_PONG:
    case SHOAL__V1__FRAME__BODY_NODES:
    case SHOAL__V1__FRAME__BODY_VALUE_RESULT:
    case SHOAL__V1__FRAME__BODY_STORE_ACK:
    case SHOAL__V1__FRAME__BODY_CHUNK_DATA:
    case SHOAL__V1__FRAME__BODY_DELETE_ACK:
    case SHOAL__V1__FRAME__BODY_ERROR: return true;
    case SHOAL__V1__FRAME__BODY_GOSSIP:
        return f->gossip->kind == SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_ACK ||
               f->gossip->kind == SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_NACK;
    default: return false;
    }
}

/* Both sides may send requests on a connection. This client stores nothing and knows no peers,
 * so it answers as an empty peer would. */
static void answer_request(Conn *c, const Shoal__V1__Frame *req) {
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    Shoal__V1__Pong pong = SHOAL__V1__PONG__INIT;
    Shoal__V1__Nodes nodes = SHOAL__V1__NODES__INIT;
    Shoal__V1__ValueResult value = SHOAL__V1__VALUE_RESULT__INIT;
    Shoal__V1__StoreAck ack = SHOAL__V1__STORE_ACK__INIT;
    Shoal__V1__DeleteAck delete_ack = SHOAL__V1__DELETE_ACK__INIT;
    Shoal__V1__Gossip gossip = SHOAL__V1__GOSSIP__INIT;
    Shoal__V1__Error error = SHOAL__V1__ERROR__INIT;
    f.id = req->id;
    switch (req->body_case) {
    case SHOAL__V1__FRAME__BODY_PING:
        pong.payload = req->ping->payload;
        f.body_case = SHOAL__V1__FRAME__BODY_PONG;
        f.pong = &pong;
        break;
    case SHOAL__V1__FRAME__BODY_FIND_NODE:
        f.body_case = SHOAL__V1__FRAME__BODY_NODES;
        f.nodes = &nodes;
        break;
    case SHOAL__V1__FRAME__BODY_FIND_VALUE:
        f.body_case = SHOAL__V1__FRAME__BODY_VALUE_RESULT;
        f.value_result = &value;
        break;
    case SHOAL__V1__FRAME__BODY_STORE_CHUNK:
        ack.reason = (char *)"client-only peer: stores nothing";
        f.body_case = SHOAL__V1__FRAME__BODY_STORE_ACK;
        f.store_ack = &ack;
        break;
    case SHOAL__V1__FRAME__BODY_DELETE:
        delete_ack.absent = (uint32_t)req->delete_->n_objects;
        f.body_case = SHOAL__V1__FRAME__BODY_DELETE_ACK;
        f.delete_ack = &delete_ack;
        break;
    case SHOAL__V1__FRAME__BODY_GOSSIP:
        gossip.kind = req->gossip->kind == SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_PROBE
                          ? SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_ACK
                          : SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_NACK;
        f.body_case = SHOAL__V1__FRAME__BODY_GOSSIP;
        f.gossip = &gossip;
        break;
    default:
        error.code = SHOAL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND;
        error.message = (char *)"client-only peer: holds no objects";
        f.body_case = SHOAL__V1__FRAME__BODY_ERROR;
        f.error = &error;
        break;
    }
    note("answering the node's %s id %llu", body_name(req), (unsigned long long)req->id);
    send_frame(c, &f);
}

/* Reads frames until the response to request `id` (or a connection-level Error with id 0)
 * arrives. Requests from the node are answered on the way; other frames are skipped. */
static IoStatus await_response(Conn *c, uint64_t id, Shoal__V1__Frame **out) {
    *out = NULL;
    for (int i = 0; i < MAX_FRAMES_PER_WAIT; i++) {
        Shoal__V1__Frame *f = NULL;
        IoStatus st = recv_frame(c, &f);
        if (st != IO_OK) return st;
        if (is_response(f) && (f->id == id || (f->id == 0 && f->body_case == SHOAL__V1__FRAME__BODY_ERROR))) {
            *out = f;
            return IO_OK;
        }
        if (!is_response(f) && f->id != 0) answer_request(c, f);
        else note("skipping %s id %llu", body_name(f), (unsigned long long)f->id);
        shoal__v1__frame__free_unpacked(f, NULL);
    }
    snprintf(c->last_error, sizeof c->last_error, "no response to request %llu within %d frames",
             (unsigned long long)id, MAX_FRAMES_PER_WAIT);
    return IO_BAD;
}

/* Text for a failed wait: the I/O status plus detail. */
static const char *wait_failure(const Conn *c, IoStatus st, char *buf, size_t n) {
    if (c->last_error[0]) snprintf(buf, n, "%s (%s)", io_text(st), c->last_error);
    else snprintf(buf, n, "%s", io_text(st));
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Handshake */

static bool send_hello(Conn *c, uint32_t version, const uint8_t *node_id, size_t node_id_len) {
    Shoal__V1__Hello hello = SHOAL__V1__HELLO__INIT;
    hello.protocol_version = version;
    hello.node_id.data = (uint8_t *)node_id;
    hello.node_id.len = node_id_len;
    hello.listen_address = (char *)""; /* client-only peer: never added to routing tables */
    hello.agent = (char *)AGENT;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = 0;
    f.body_case = SHOAL__V1__FRAME__BODY_HELLO;
    f.hello = &hello;
    return send_frame(c, &f);
}

/* The node's Hello must be the first frame it sends, with id 0. */
static bool receive_hello(Conn *c, char *why, size_t n) {
    Shoal__V1__Frame *f = NULL;
    IoStatus st = recv_frame(c, &f);
    char buf[300];
    if (st != IO_OK) {
        snprintf(why, n, "no Hello from the node: %s", wait_failure(c, st, buf, sizeof buf));
        return false;
    }
    bool ok = false;
    if (f->body_case != SHOAL__V1__FRAME__BODY_HELLO) {
        snprintf(why, n, "the node's first frame is %s, expected Hello", describe_frame(f, buf, sizeof buf));
    } else if (f->id != 0) {
        snprintf(why, n, "the node's Hello has frame id %llu, expected 0", (unsigned long long)f->id);
    } else if (f->hello->protocol_version != 1) {
        snprintf(why, n, "the node's Hello has protocol_version %u, expected 1", f->hello->protocol_version);
    } else if (f->hello->node_id.len != ID_LEN || memcmp(f->hello->node_id.data, c->peer_id, ID_LEN) != 0) {
        snprintf(why, n, "the node's Hello node_id (%zu bytes) differs from the certificate-derived NodeID",
                 f->hello->node_id.len);
    } else {
        ok = true;
        snprintf(why, n, "agent \"%s\", listen_address \"%s\", %zu capabilities", f->hello->agent,
                 f->hello->listen_address, f->hello->n_capabilities);
    }
    shoal__v1__frame__free_unpacked(f, NULL);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks on the main connection */

static void check_ping(Conn *c) {
    static const char payload[] = "interop";
    Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
    ping.payload.data = (uint8_t *)payload;
    ping.payload.len = strlen(payload);
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = 1;
    f.body_case = SHOAL__V1__FRAME__BODY_PING;
    f.ping = &ping;
    char buf[300], d[300];
    if (!send_frame(c, &f)) {
        fail("Ping: could not send (%s)", c->last_error);
        return;
    }
    Shoal__V1__Frame *r = NULL;
    IoStatus st = await_response(c, 1, &r);
    if (st != IO_OK) {
        fail("Ping: %s", wait_failure(c, st, buf, sizeof buf));
        return;
    }
    if (r->body_case != SHOAL__V1__FRAME__BODY_PONG || r->id != 1) {
        fail("Ping id 1: answered by %s, expected Pong id 1", describe_frame(r, d, sizeof d));
    } else if (r->pong->payload.len != ping.payload.len ||
               memcmp(r->pong->payload.data, payload, ping.payload.len) != 0) {
        fail("Ping id 1: Pong payload is %zu bytes and differs from \"interop\"", r->pong->payload.len);
    } else {
        pass("Ping id 1 -> Pong id 1 with payload \"interop\"");
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

/* Several requests back to back; responses may come in any order but each echoes its id. */
static void check_pipelining(Conn *c, uint64_t first_id) {
    uint8_t payloads[PIPELINED][8];
    bool answered[PIPELINED] = {false};
    for (int i = 0; i < PIPELINED; i++) {
        RAND_bytes(payloads[i], sizeof payloads[i]);
        Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
        ping.payload.data = payloads[i];
        ping.payload.len = sizeof payloads[i];
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = first_id + (uint64_t)i;
        f.body_case = SHOAL__V1__FRAME__BODY_PING;
        f.ping = &ping;
        if (!send_frame(c, &f)) {
            fail("pipelined Pings: could not send (%s)", c->last_error);
            return;
        }
    }
    char buf[300], d[300];
    for (int got = 0; got < PIPELINED; got++) {
        Shoal__V1__Frame *r = NULL;
        IoStatus st = IO_BAD;
        /* Accept a Pong for any outstanding id. */
        for (int i = 0; i < MAX_FRAMES_PER_WAIT; i++) {
            st = recv_frame(c, &r);
            if (st != IO_OK) break;
            if (is_response(r)) break;
            if (r->id != 0) answer_request(c, r);
            shoal__v1__frame__free_unpacked(r, NULL);
            r = NULL;
            st = IO_BAD;
        }
        if (st != IO_OK || !r) {
            fail("pipelined Pings: %d of %d answered, then %s", got, PIPELINED, wait_failure(c, st, buf, sizeof buf));
            return;
        }
        uint64_t k = r->id - first_id;
        bool ok = r->body_case == SHOAL__V1__FRAME__BODY_PONG && r->id >= first_id && k < PIPELINED && !answered[k] &&
                  r->pong->payload.len == sizeof payloads[k] &&
                  memcmp(r->pong->payload.data, payloads[k], sizeof payloads[k]) == 0;
        if (!ok) {
            fail("pipelined Pings: unexpected %s (ids %llu..%llu outstanding)", describe_frame(r, d, sizeof d),
                 (unsigned long long)first_id, (unsigned long long)(first_id + PIPELINED - 1));
            shoal__v1__frame__free_unpacked(r, NULL);
            return;
        }
        answered[k] = true;
        shoal__v1__frame__free_unpacked(r, NULL);
    }
    pass("%d pipelined Pings (ids %llu..%llu) each answered by a Pong echoing its id and payload", PIPELINED,
         (unsigned long long)first_id, (unsigned long long)(first_id + PIPELINED - 1));
}

static int compare_distance(const uint8_t *a, const uint8_t *b, const uint8_t *target) {
    for (int i = 0; i < ID_LEN; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db) return da < db ? -1 : 1;
    }
    return 0;
}

static void check_find_node(Conn *c, const Identity *me) {
    uint8_t target[ID_LEN];
    RAND_bytes(target, sizeof target);
    Shoal__V1__FindNode find = SHOAL__V1__FIND_NODE__INIT;
    find.target.data = target;
    find.target.len = ID_LEN;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = 2;
    f.body_case = SHOAL__V1__FRAME__BODY_FIND_NODE;
    f.find_node = &find;
    char buf[300], d[300], s[17];
    if (!send_frame(c, &f)) {
        fail("FindNode: could not send (%s)", c->last_error);
        return;
    }
    Shoal__V1__Frame *r = NULL;
    IoStatus st = await_response(c, 2, &r);
    if (st != IO_OK) {
        fail("FindNode: %s", wait_failure(c, st, buf, sizeof buf));
        return;
    }
    if (r->body_case != SHOAL__V1__FRAME__BODY_NODES || r->id != 2) {
        fail("FindNode id 2: answered by %s, expected Nodes id 2", describe_frame(r, d, sizeof d));
        shoal__v1__frame__free_unpacked(r, NULL);
        return;
    }
    const Shoal__V1__Nodes *nodes = r->nodes;
    const char *problem = NULL;
    size_t bad = 0;
    if (nodes->n_contacts > MAX_CONTACTS) problem = "more than 20 contacts";
    for (size_t i = 0; !problem && i < nodes->n_contacts; i++) {
        const Shoal__V1__Contact *ct = nodes->contacts[i];
        bad = i;
        if (ct->node_id.len != ID_LEN) problem = "a contact's node_id is not 32 bytes";
        else if (!ct->address || !strchr(ct->address, ':')) problem = "a contact's address is not host:port";
        else if (memcmp(ct->node_id.data, me->id, ID_LEN) == 0) problem = "the requester itself is listed";
        else if (c->peer_seen && memcmp(ct->node_id.data, c->peer_id, ID_LEN) == 0)
            problem = "the receiver itself is listed";
        else if (i > 0 && compare_distance(nodes->contacts[i - 1]->node_id.data, ct->node_id.data, target) > 0)
            problem = "contacts are not sorted closest first";
    }
    if (problem) {
        fail("FindNode id 2: Nodes answer breaks the rules: %s (contact %zu)", problem, bad);
    } else {
        pass("FindNode id 2 (random target %s) -> Nodes with %zu contacts (<= 20, 32-byte IDs, closest first)",
             short_id(target, ID_LEN, s), nodes->n_contacts);
        for (size_t i = 0; i < nodes->n_contacts; i++)
            note("contact %s at %s", short_id(nodes->contacts[i]->node_id.data, ID_LEN, s), nodes->contacts[i]->address);
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

/* A Ping on the main connection, to show it is still open and answering. */
static bool still_answers(Conn *c, uint64_t id, char *why, size_t n) {
    Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = id;
    f.body_case = SHOAL__V1__FRAME__BODY_PING;
    f.ping = &ping;
    char buf[300], d[300];
    if (!send_frame(c, &f)) {
        snprintf(why, n, "could not send a Ping (%s)", c->last_error);
        return false;
    }
    Shoal__V1__Frame *r = NULL;
    IoStatus st = await_response(c, id, &r);
    if (st != IO_OK) {
        snprintf(why, n, "the next Ping got no Pong: %s", wait_failure(c, st, buf, sizeof buf));
        return false;
    }
    bool ok = r->body_case == SHOAL__V1__FRAME__BODY_PONG;
    if (!ok) snprintf(why, n, "the next Ping was answered by %s", describe_frame(r, d, sizeof d));
    shoal__v1__frame__free_unpacked(r, NULL);
    return ok;
}

/* Section 6.8: a PROBE from a client-only peer (this client announces no listen address) is
 * answered Error(BAD_REQUEST) with the request's id, and the connection stays open. */
static void check_client_only_gossip(Conn *c, uint64_t *next_id) {
    uint64_t id = (*next_id)++;
    Shoal__V1__Gossip gossip = SHOAL__V1__GOSSIP__INIT;
    gossip.kind = SHOAL__V1__GOSSIP_KIND__GOSSIP_KIND_PROBE;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = id;
    f.body_case = SHOAL__V1__FRAME__BODY_GOSSIP;
    f.gossip = &gossip;
    char buf[300], d[300], why[400];
    const char *label = "Gossip PROBE from a client-only peer";
    if (!send_frame(c, &f)) {
        fail("%s: could not send (%s)", label, c->last_error);
        return;
    }
    Shoal__V1__Frame *r = NULL;
    IoStatus st = await_response(c, id, &r);
    if (st != IO_OK) {
        fail("%s: %s", label, wait_failure(c, st, buf, sizeof buf));
        return;
    }
    bool refused = r->body_case == SHOAL__V1__FRAME__BODY_ERROR &&
                   r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST;
    if (!refused) {
        fail("%s: answered by %s, expected Error(BAD_REQUEST) id %llu", label, describe_frame(r, d, sizeof d),
             (unsigned long long)id);
    }
    shoal__v1__frame__free_unpacked(r, NULL);
    if (!refused) return;
    if (still_answers(c, (*next_id)++, why, sizeof why)) {
        pass("%s -> Error(BAD_REQUEST) id %llu; the connection stays open (a Ping still gets its Pong)", label,
             (unsigned long long)id);
    } else {
        fail("%s: Error(BAD_REQUEST) received, but %s", label, why);
    }
}

/* Section 6.6: BadCopy is one-way (id 0): never answered, and the connection stays open. A copy
 * the node does not hold, or that verifies, is kept. */
static void check_bad_copy(Conn *c, uint64_t *next_id) {
    uint8_t id[ID_LEN];
    RAND_bytes(id, sizeof id);
    Shoal__V1__BadCopy bad = SHOAL__V1__BAD_COPY__INIT;
    bad.id.data = id;
    bad.id.len = ID_LEN;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = 0;
    f.body_case = SHOAL__V1__FRAME__BODY_BAD_COPY;
    f.bad_copy = &bad;
    char why[400];
    const char *label = "BadCopy (one-way) for an object the node does not hold";
    if (!send_frame(c, &f)) {
        fail("%s: could not send (%s)", label, c->last_error);
        return;
    }
    /* await_response skips frames with other ids, so an answer to the BadCopy would not pass as the Pong;
     * the Ping's answer shows the connection is open and nothing broke. */
    if (still_answers(c, (*next_id)++, why, sizeof why)) pass("%s -> no answer; the connection stays open", label);
    else fail("%s: %s", label, why);
}

/* One GetChunk round trip. Returns the response frame (ChunkData or Error) or NULL. */
static Shoal__V1__Frame *get_chunk(Conn *c, uint64_t req_id, const uint8_t *id, size_t id_len, uint64_t offset,
                                   uint64_t length, char *why, size_t n) {
    Shoal__V1__GetChunk get = SHOAL__V1__GET_CHUNK__INIT;
    get.id.data = (uint8_t *)id;
    get.id.len = id_len;
    get.offset = offset;
    get.length = length;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = req_id;
    f.body_case = SHOAL__V1__FRAME__BODY_GET_CHUNK;
    f.get_chunk = &get;
    if (!send_frame(c, &f)) {
        snprintf(why, n, "could not send GetChunk (%s)", c->last_error);
        return NULL;
    }
    Shoal__V1__Frame *r = NULL;
    char buf[300];
    IoStatus st = await_response(c, req_id, &r);
    if (st != IO_OK) {
        snprintf(why, n, "GetChunk id %llu: %s", (unsigned long long)req_id, wait_failure(c, st, buf, sizeof buf));
        return NULL;
    }
    return r;
}

/* Fetches a whole object, in ranges if the node returns less than all of it, and verifies
 * SHA-256(data) == id and total_size. */
static bool fetch_object(Conn *c, uint64_t *next_id, const uint8_t id[ID_LEN], uint8_t **data_out, size_t *len_out,
                         int *requests_out, char *why, size_t n) {
    uint8_t *data = NULL;
    uint64_t have = 0, total = 0;
    char d[300];
    int requests = 0;
    for (; requests < MAX_RANGE_REQUESTS; requests++) {
        uint64_t req_id = (*next_id)++;
        Shoal__V1__Frame *r = get_chunk(c, req_id, id, ID_LEN, have, 0, why, n);
        if (!r) goto failed;
        if (r->body_case != SHOAL__V1__FRAME__BODY_CHUNK_DATA || r->id != req_id) {
            snprintf(why, n, "GetChunk id %llu offset %llu answered by %s, expected ChunkData", (unsigned long long)req_id,
                     (unsigned long long)have, describe_frame(r, d, sizeof d));
            shoal__v1__frame__free_unpacked(r, NULL);
            goto failed;
        }
        const Shoal__V1__ChunkData *cd = r->chunk_data;
        const char *problem = NULL;
        if (cd->id.len != ID_LEN || memcmp(cd->id.data, id, ID_LEN) != 0) problem = "ChunkData.id differs from the request";
        else if (cd->offset != have) problem = "ChunkData.offset differs from the request";
        else if (cd->total_size > MAX_OBJECT) problem = "total_size is over the 8 MiB + 16 object limit";
        else if (requests > 0 && cd->total_size != total) problem = "total_size changed between ranges";
        else if (cd->data.len > cd->total_size - have) problem = "more data than total_size - offset";
        else if (cd->data.len == 0 && have < cd->total_size) problem = "empty data before the end of the object";
        if (problem) {
            snprintf(why, n, "GetChunk id %llu: %s", (unsigned long long)req_id, problem);
            shoal__v1__frame__free_unpacked(r, NULL);
            goto failed;
        }
        if (requests == 0) {
            total = cd->total_size;
            data = malloc(total ? (size_t)total : 1);
            if (!data) {
                shoal__v1__frame__free_unpacked(r, NULL);
                snprintf(why, n, "out of memory");
                goto failed;
            }
        }
        memcpy(data + have, cd->data.data, cd->data.len);
        have += cd->data.len;
        shoal__v1__frame__free_unpacked(r, NULL);
        if (have == total) break;
    }
    if (have != total) {
        snprintf(why, n, "object not complete after %d GetChunk requests", MAX_RANGE_REQUESTS);
        goto failed;
    }
    uint8_t digest[ID_LEN];
    if (!sha256(data, (size_t)total, digest) || memcmp(digest, id, ID_LEN) != 0) {
        snprintf(why, n, "SHA-256 of the %llu bytes received differs from the object ID", (unsigned long long)total);
        goto failed;
    }
    *data_out = data;
    *len_out = (size_t)total;
    if (requests_out) *requests_out = requests + 1;
    return true;
failed:
    free(data);
    return false;
}

/* Requests one byte range and compares it with the whole object fetched before. */
static void check_ranged_get(Conn *c, uint64_t *next_id, const uint8_t id[ID_LEN], const uint8_t *whole, size_t total) {
    if (total < 3) return;
    uint64_t offset = total / 3, length = total / 3 < 1000 ? total / 3 : 1000;
    uint64_t req_id = (*next_id)++;
    char why[300], d[300];
    Shoal__V1__Frame *r = get_chunk(c, req_id, id, ID_LEN, offset, length, why, sizeof why);
    if (!r) {
        fail("ranged GetChunk: %s", why);
        return;
    }
    if (r->body_case != SHOAL__V1__FRAME__BODY_CHUNK_DATA) {
        fail("ranged GetChunk id %llu (offset %llu, length %llu): answered by %s", (unsigned long long)req_id,
             (unsigned long long)offset, (unsigned long long)length, describe_frame(r, d, sizeof d));
    } else if (r->chunk_data->offset != offset || r->chunk_data->total_size != total ||
               r->chunk_data->data.len != length || memcmp(r->chunk_data->data.data, whole + offset, length) != 0) {
        fail("ranged GetChunk id %llu: got offset %llu, total_size %llu, %zu bytes; expected offset %llu, total_size "
             "%zu, the %llu bytes at that offset",
             (unsigned long long)req_id, (unsigned long long)r->chunk_data->offset,
             (unsigned long long)r->chunk_data->total_size, r->chunk_data->data.len, (unsigned long long)offset, total,
             (unsigned long long)length);
    } else {
        pass("ranged GetChunk id %llu (offset %llu, length %llu) -> exactly those bytes", (unsigned long long)req_id,
             (unsigned long long)offset, (unsigned long long)length);
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

/* offset == total_size: an empty answer; offset > total_size: Error(BAD_REQUEST), connection open. */
static void check_get_bounds(Conn *c, uint64_t *next_id, const uint8_t id[ID_LEN], size_t total) {
    char why[300], d[300];
    uint64_t req_id = (*next_id)++;
    Shoal__V1__Frame *r = get_chunk(c, req_id, id, ID_LEN, total, 0, why, sizeof why);
    if (!r) {
        fail("GetChunk at the end of the object: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_CHUNK_DATA && r->chunk_data->data.len == 0 &&
        r->chunk_data->total_size == total && r->chunk_data->offset == total) {
        pass("GetChunk id %llu at offset == total_size (%zu) -> ChunkData with no data", (unsigned long long)req_id,
             total);
    } else {
        fail("GetChunk id %llu at offset == total_size (%zu): answered by %s, expected an empty ChunkData",
             (unsigned long long)req_id, total, describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);

    req_id = (*next_id)++;
    r = get_chunk(c, req_id, id, ID_LEN, (uint64_t)total + 1, 0, why, sizeof why);
    if (!r) {
        fail("GetChunk beyond the end of the object: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR && r->id == req_id &&
        r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST) {
        pass("GetChunk id %llu at offset total_size + 1 -> Error(BAD_REQUEST), connection stays open",
             (unsigned long long)req_id);
    } else {
        fail("GetChunk id %llu at offset total_size + 1: answered by %s, expected Error(BAD_REQUEST) with the same id",
             (unsigned long long)req_id, describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

static void check_find_value(Conn *c, uint64_t *next_id, const uint8_t id[ID_LEN], size_t size) {
    Shoal__V1__FindValue find = SHOAL__V1__FIND_VALUE__INIT;
    find.key.data = (uint8_t *)id;
    find.key.len = ID_LEN;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = (*next_id)++;
    f.body_case = SHOAL__V1__FRAME__BODY_FIND_VALUE;
    f.find_value = &find;
    char buf[300], d[300];
    if (!send_frame(c, &f)) {
        fail("FindValue: could not send (%s)", c->last_error);
        return;
    }
    Shoal__V1__Frame *r = NULL;
    IoStatus st = await_response(c, f.id, &r);
    if (st != IO_OK) {
        fail("FindValue: %s", wait_failure(c, st, buf, sizeof buf));
        return;
    }
    if (r->body_case != SHOAL__V1__FRAME__BODY_VALUE_RESULT) {
        fail("FindValue id %llu: answered by %s, expected ValueResult", (unsigned long long)f.id,
             describe_frame(r, d, sizeof d));
    } else if (!r->value_result->held || r->value_result->size != size) {
        fail("FindValue id %llu: held=%d size=%llu for an object the node just served (%zu bytes)",
             (unsigned long long)f.id, (int)r->value_result->held, (unsigned long long)r->value_result->size, size);
    } else {
        pass("FindValue id %llu -> ValueResult{held: true, size: %zu}", (unsigned long long)f.id, size);
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

static void check_not_found(Conn *c, uint64_t *next_id) {
    uint8_t id[ID_LEN];
    RAND_bytes(id, sizeof id);
    uint64_t req_id = (*next_id)++;
    char why[300], d[300];
    Shoal__V1__Frame *r = get_chunk(c, req_id, id, ID_LEN, 0, 0, why, sizeof why);
    if (!r) {
        fail("GetChunk of an unknown object: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR && r->id == req_id &&
        r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND) {
        pass("GetChunk id %llu of a random ID -> Error(NOT_FOUND) id %llu", (unsigned long long)req_id,
             (unsigned long long)req_id);
    } else {
        fail("GetChunk id %llu of a random ID: answered by %s, expected Error(NOT_FOUND) with the same id",
             (unsigned long long)req_id, describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

/* Walks a public file's manifest tree from `bytes` (one node), fetching every object, and feeds
 * the file's plaintext into `file_hash`. */
typedef struct {
    Conn *conn;
    uint64_t *next_id;
    EVP_MD_CTX *file_hash;
    uint64_t file_bytes;
    int objects;
    int chunks;
    int manifests;
} Walk;

static bool walk_node(Walk *w, const uint8_t *bytes, size_t len, int expected_depth, uint64_t expected_first,
                      char *why, size_t n) {
    Shoal__V1__Manifest *m = shoal__v1__manifest__unpack(NULL, len, bytes);
    if (!m) {
        snprintf(why, n, "object is not a protobuf Manifest (a private file's manifest is sealed; walk needs a public file)");
        return false;
    }
    w->manifests++;
    bool ok = false;
    uint64_t sum = 0;
    if (m->format_version != 1) {
        snprintf(why, n, "manifest format_version %u, expected 1", m->format_version);
    } else if (m->cipher != SHOAL__V1__CIPHER__CIPHER_NONE) {
        snprintf(why, n, "manifest cipher %d: not a public file", (int)m->cipher);
    } else if (m->chunk_size < MIN_CHUNK_SIZE || m->chunk_size > MAX_CHUNK_SIZE) {
        snprintf(why, n, "manifest chunk_size %u out of range", m->chunk_size);
    } else if (m->depth >= MAX_MANIFEST_DEPTH || (expected_depth >= 0 && (int)m->depth != expected_depth)) {
        snprintf(why, n, "manifest depth %u unexpected", m->depth);
    } else if (m->first_chunk != expected_first) {
        snprintf(why, n, "manifest first_chunk %llu, expected %llu", (unsigned long long)m->first_chunk,
                 (unsigned long long)expected_first);
    } else {
        ok = true;
        uint64_t next_first = m->first_chunk;
        for (size_t i = 0; ok && i < m->n_entries; i++) {
            const Shoal__V1__ManifestEntry *e = m->entries[i];
            if (e->id.len != ID_LEN) {
                snprintf(why, n, "manifest entry %zu has a %zu-byte id", i, e->id.len);
                ok = false;
                break;
            }
            if (w->objects >= MAX_WALK_OBJECTS) {
                snprintf(why, n, "more than %d objects; stopping", MAX_WALK_OBJECTS);
                ok = false;
                break;
            }
            uint8_t *obj = NULL;
            size_t obj_len = 0;
            char inner[300];
            if (!fetch_object(w->conn, w->next_id, e->id.data, &obj, &obj_len, NULL, inner, sizeof inner)) {
                snprintf(why, n, "entry %zu of a depth-%u node: %s", i, m->depth, inner);
                ok = false;
                break;
            }
            w->objects++;
            if (m->depth == 0) {
                w->chunks++;
                bool last = i + 1 == m->n_entries;
                if (obj_len != e->size || e->size == 0 || e->size > m->chunk_size ||
                    (!last && e->size != m->chunk_size)) {
                    snprintf(why, n, "chunk %zu: %zu bytes stored, entry says %llu, chunk_size %u", i, obj_len,
                             (unsigned long long)e->size, m->chunk_size);
                    ok = false;
                } else {
                    EVP_DigestUpdate(w->file_hash, obj, obj_len);
                    w->file_bytes += obj_len;
                }
            } else {
                ok = walk_node(w, obj, obj_len, (int)m->depth - 1, next_first, why, n);
                next_first += (e->size + m->chunk_size - 1) / m->chunk_size;
            }
            sum += e->size;
            free(obj);
        }
        if (ok && sum != m->total_size) {
            snprintf(why, n, "entries cover %llu bytes, total_size says %llu", (unsigned long long)sum,
                     (unsigned long long)m->total_size);
            ok = false;
        }
    }
    shoal__v1__manifest__free_unpacked(m, NULL);
    return ok;
}

static void check_walk(Conn *c, uint64_t *next_id, const uint8_t *root, size_t root_len, bool have_expected,
                       const uint8_t expected[ID_LEN]) {
    Walk w = {.conn = c, .next_id = next_id, .file_hash = EVP_MD_CTX_new()};
    char why[400];
    if (!w.file_hash || EVP_DigestInit_ex(w.file_hash, EVP_sha256(), NULL) != 1) {
        fail("manifest walk: cannot create a SHA-256 context");
        EVP_MD_CTX_free(w.file_hash);
        return;
    }
    if (!walk_node(&w, root, root_len, -1, 0, why, sizeof why)) {
        fail("manifest walk: %s", why);
        EVP_MD_CTX_free(w.file_hash);
        return;
    }
    uint8_t digest[ID_LEN];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(w.file_hash, digest, &dl);
    EVP_MD_CTX_free(w.file_hash);
    char hex[2 * ID_LEN + 1];
    hex_encode(digest, ID_LEN, hex);
    if (have_expected && memcmp(digest, expected, ID_LEN) != 0) {
        fail("manifest walk: the file's %llu bytes hash to %s, expected another SHA-256",
             (unsigned long long)w.file_bytes, hex);
        return;
    }
    pass("manifest walk: %d manifest node(s), %d chunk(s) fetched and verified, %llu file bytes, SHA-256 %s%s",
         w.manifests, w.chunks, (unsigned long long)w.file_bytes, hex, have_expected ? " (as expected)" : "");
}

/* ------------------------------------------------------------------------------------------ */
/* Private files: HKDF subkeys, AES-256-GCM sealing (README "Private files"). */

enum {
    DOMAIN_CHUNK = 0x00,
    DOMAIN_MANIFEST = 0x01,
    NONCE_LEN = 12,
    TAG_LEN = 16,
    AAD_LEN = 8 + ID_LEN + NONCE_LEN,
    CHUNK_SIZE = 1024 * 1024, /* default chunk size */
    MAX_LEAF_ENTRIES = 16384, /* this client writes single-leaf manifests only */
};

static const char SALT[] = "shoal-v1";

typedef struct {
    uint8_t chunk_key[32];
    uint8_t manifest_key[32];
    uint8_t identity[32];
} FileKeys;

static bool hkdf_sha256(const uint8_t key[32], const char *info, uint8_t out[32]) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t out_len = 32;
    bool ok = ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
              EVP_PKEY_CTX_set1_hkdf_salt(ctx, (unsigned char *)SALT, (int)strlen(SALT)) > 0 &&
              EVP_PKEY_CTX_set1_hkdf_key(ctx, (unsigned char *)key, 32) > 0 &&
              EVP_PKEY_CTX_add1_hkdf_info(ctx, (unsigned char *)info, (int)strlen(info)) > 0 &&
              EVP_PKEY_derive(ctx, out, &out_len) > 0 && out_len == 32;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static bool derive_file_keys(const uint8_t file_key[32], FileKeys *k) {
    return hkdf_sha256(file_key, "shoal chunk key", k->chunk_key) &&
           hkdf_sha256(file_key, "shoal manifest key", k->manifest_key) &&
           hkdf_sha256(file_key, "shoal file id", k->identity);
}

/* nonce = domain byte, 3 zero bytes, big-endian u64 index */
static void seal_nonce(uint8_t domain, uint64_t index, uint8_t nonce[NONCE_LEN]) {
    nonce[0] = domain;
    nonce[1] = nonce[2] = nonce[3] = 0;
    for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
}

/* aad = "shoal-v1" || file identity (32) || nonce (12) */
static void seal_aad(const FileKeys *k, const uint8_t nonce[NONCE_LEN], uint8_t aad[AAD_LEN]) {
    memcpy(aad, SALT, 8);
    memcpy(aad + 8, k->identity, ID_LEN);
    memcpy(aad + 8 + ID_LEN, nonce, NONCE_LEN);
}

/* Writes ciphertext || 16-byte tag (len + 16 bytes) to `out`. */
static bool seal(const FileKeys *k, uint8_t domain, uint64_t index, const uint8_t *plaintext, size_t len,
                 uint8_t *out) {
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
    seal_nonce(domain, index, nonce);
    seal_aad(k, nonce, aad);
    const uint8_t *key = domain == DOMAIN_CHUNK ? k->chunk_key : k->manifest_key;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = ctx && len <= INT_MAX && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
              EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
              EVP_EncryptUpdate(ctx, NULL, &n, aad, AAD_LEN) == 1 &&
              (len == 0 || EVP_EncryptUpdate(ctx, out, &n, plaintext, (int)len) == 1) &&
              EVP_EncryptFinal_ex(ctx, out + (len == 0 ? 0 : n), &m) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Unpadded base64url (RFC 4648 section 5). */
static void base64url(const uint8_t *bytes, size_t len, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t n = len - i < 3 ? len - i : 3;
        uint32_t v = 0;
        for (size_t j = 0; j < 3; j++) v = v << 8 | (j < n ? bytes[i + j] : 0);
        for (size_t j = 0; j < n + 1; j++) out[o++] = alphabet[(v >> (18 - 6 * j)) & 63];
    }
    out[o] = '\0';
}

/* The X9.63 uncompressed point of a P-256 key: the last 65 bytes of its 91-byte SPKI DER. */
static bool x963_public_key(EVP_PKEY *key, uint8_t out[65]) {
    uint8_t der[128];
    unsigned char *p = der;
    if (i2d_PUBKEY(key, NULL) != 91 || i2d_PUBKEY(key, &p) != 91 || der[26] != 0x04) return false;
    memcpy(out, der + 26, 65);
    return true;
}

static void print_hex_line(const char *label, const uint8_t *bytes, size_t len) {
    printf("%-24s ", label);
    for (size_t i = 0; i < len; i++) printf("%02x", bytes[i]);
    printf("\n");
}

/* Prints the sealing test vectors of Protocol/README.md. */
static int print_test_vectors(void) {
    uint8_t file_key[32];
    for (int i = 0; i < 32; i++) file_key[i] = (uint8_t)i;
    FileKeys k;
    if (!derive_file_keys(file_key, &k)) return 1;
    print_hex_line("file key", file_key, 32);
    print_hex_line("chunk key", k.chunk_key, 32);
    print_hex_line("manifest key", k.manifest_key, 32);
    print_hex_line("file identity", k.identity, 32);
    static const char text[] = "hello, shoal";
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN], sealed[sizeof text - 1 + TAG_LEN], id[ID_LEN];
    seal_nonce(DOMAIN_CHUNK, 1, nonce);
    seal_aad(&k, nonce, aad);
    print_hex_line("chunk 1 nonce", nonce, NONCE_LEN);
    print_hex_line("chunk 1 aad", aad, AAD_LEN);
    if (!seal(&k, DOMAIN_CHUNK, 1, (const uint8_t *)text, sizeof text - 1, sealed)) return 1;
    print_hex_line("chunk 1 sealed", sealed, sizeof sealed);
    sha256(sealed, sizeof sealed, id);
    print_hex_line("chunk 1 id", id, ID_LEN);
    seal_nonce(DOMAIN_MANIFEST, (uint64_t)1 << 56 | 16384, nonce);
    print_hex_line("manifest (1,16384) nonce", nonce, NONCE_LEN);
    char b64[64];
    base64url(file_key, 32, b64);
    printf("%-24s %s\n", "key in an address", b64);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Write checks: StoreChunk, Delete, and a private file written by this client. */

static Shoal__V1__Frame *store_chunk(Conn *c, uint64_t req_id, const uint8_t id[ID_LEN], const uint8_t *data,
                                     size_t len, Shoal__V1__ObjectKind kind, const uint8_t root[ID_LEN],
                                     const uint8_t owner[65], char *why, size_t n) {
    Shoal__V1__StoreChunk store = SHOAL__V1__STORE_CHUNK__INIT;
    store.id.data = (uint8_t *)id;
    store.id.len = ID_LEN;
    store.data.data = (uint8_t *)data;
    store.data.len = len;
    store.kind = kind;
    store.root.data = (uint8_t *)root;
    store.root.len = ID_LEN;
    store.owner_key.data = (uint8_t *)owner;
    store.owner_key.len = 65;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = req_id;
    f.body_case = SHOAL__V1__FRAME__BODY_STORE_CHUNK;
    f.store_chunk = &store;
    if (!send_frame(c, &f)) {
        snprintf(why, n, "could not send StoreChunk (%s)", c->last_error);
        return NULL;
    }
    Shoal__V1__Frame *r = NULL;
    char buf[300];
    IoStatus st = await_response(c, req_id, &r);
    if (st != IO_OK) {
        snprintf(why, n, "StoreChunk id %llu: %s", (unsigned long long)req_id, wait_failure(c, st, buf, sizeof buf));
        return NULL;
    }
    return r;
}

/* Stores one object and requires StoreAck{stored: true}. */
static bool store_ok(Conn *c, uint64_t *next_id, const uint8_t id[ID_LEN], const uint8_t *data, size_t len,
                     Shoal__V1__ObjectKind kind, const uint8_t root[ID_LEN], const uint8_t owner[65], char *why,
                     size_t n) {
    uint64_t req_id = (*next_id)++;
    Shoal__V1__Frame *r = store_chunk(c, req_id, id, data, len, kind, root, owner, why, n);
    if (!r) return false;
    char d[300];
    bool ok = r->body_case == SHOAL__V1__FRAME__BODY_STORE_ACK && r->store_ack->stored;
    if (!ok) {
        if (r->body_case == SHOAL__V1__FRAME__BODY_STORE_ACK)
            snprintf(why, n, "StoreChunk id %llu declined: \"%s\" (%zu closer contacts)", (unsigned long long)req_id,
                     r->store_ack->reason, r->store_ack->n_closer);
        else
            snprintf(why, n, "StoreChunk id %llu answered by %s", (unsigned long long)req_id,
                     describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);
    return ok;
}

static bool sign_statement(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestSign(md, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* Sends Delete{root, [object]} signed by `signer` and returns the response. */
static Shoal__V1__Frame *send_delete(Conn *c, uint64_t req_id, EVP_PKEY *signer, const uint8_t root[ID_LEN],
                                     const uint8_t object[ID_LEN], char *why, size_t n) {
    ProtobufCBinaryData objects[1] = {{.len = ID_LEN, .data = (uint8_t *)object}};
    Shoal__V1__DeleteStatement statement = SHOAL__V1__DELETE_STATEMENT__INIT;
    statement.domain = (char *)"shoal-delete-v1";
    statement.root.data = (uint8_t *)root;
    statement.root.len = ID_LEN;
    statement.n_objects = 1;
    statement.objects = objects;
    statement.issued_at = (int64_t)time(NULL);
    uint8_t packed[256], sig[128], owner[65];
    size_t packed_len = shoal__v1__delete_statement__get_packed_size(&statement);
    size_t sig_len = sizeof sig;
    if (packed_len > sizeof packed || !x963_public_key(signer, owner)) {
        snprintf(why, n, "cannot encode the DeleteStatement");
        return NULL;
    }
    shoal__v1__delete_statement__pack(&statement, packed);
    if (!sign_statement(signer, packed, packed_len, sig, &sig_len)) {
        snprintf(why, n, "cannot sign the DeleteStatement");
        return NULL;
    }
    Shoal__V1__Delete del = SHOAL__V1__DELETE__INIT;
    del.root = statement.root;
    del.n_objects = 1;
    del.objects = objects;
    del.issued_at = statement.issued_at;
    del.owner_key.data = owner;
    del.owner_key.len = sizeof owner;
    del.signature.data = sig;
    del.signature.len = sig_len;
    Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
    f.id = req_id;
    f.body_case = SHOAL__V1__FRAME__BODY_DELETE;
    f.delete_ = &del;
    if (!send_frame(c, &f)) {
        snprintf(why, n, "could not send Delete (%s)", c->last_error);
        return NULL;
    }
    Shoal__V1__Frame *r = NULL;
    char buf[300];
    IoStatus st = await_response(c, req_id, &r);
    if (st != IO_OK) {
        snprintf(why, n, "Delete id %llu: %s", (unsigned long long)req_id, wait_failure(c, st, buf, sizeof buf));
        return NULL;
    }
    return r;
}

/* StoreChunk with a bad hash, StoreChunk + GetChunk, a Delete by a stranger, a Delete by the owner,
 * then GetChunk of the deleted object. */
static void check_store_and_delete(Conn *c, uint64_t *next_id, const Identity *me) {
    uint8_t owner[65];
    if (!x963_public_key(me->key, owner)) {
        fail("StoreChunk: cannot encode this client's public key");
        return;
    }
    uint8_t data[1000], id[ID_LEN], wrong[ID_LEN];
    RAND_bytes(data, sizeof data);
    sha256(data, sizeof data, id);
    memcpy(wrong, id, ID_LEN);
    wrong[ID_LEN - 1] ^= 1;
    char why[400], d[300];

    uint64_t req_id = (*next_id)++;
    Shoal__V1__Frame *r =
        store_chunk(c, req_id, wrong, data, sizeof data, SHOAL__V1__OBJECT_KIND__OBJECT_KIND_CHUNK, wrong, owner, why,
                    sizeof why);
    if (!r) {
        fail("StoreChunk with a wrong id: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR && r->id == req_id &&
        r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_HASH_MISMATCH) {
        pass("StoreChunk id %llu whose data does not hash to its id -> Error(HASH_MISMATCH)", (unsigned long long)req_id);
    } else {
        fail("StoreChunk id %llu whose data does not hash to its id: answered by %s, expected Error(HASH_MISMATCH)",
             (unsigned long long)req_id, describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);

    if (!store_ok(c, next_id, id, data, sizeof data, SHOAL__V1__OBJECT_KIND__OBJECT_KIND_CHUNK, id, owner, why,
                  sizeof why)) {
        fail("StoreChunk of a 1000-byte object: %s", why);
        return;
    }
    uint8_t *back = NULL;
    size_t back_len = 0;
    if (!fetch_object(c, next_id, id, &back, &back_len, NULL, why, sizeof why) || back_len != sizeof data ||
        memcmp(back, data, sizeof data) != 0) {
        fail("StoreChunk then GetChunk: %s", why);
        free(back);
        return;
    }
    free(back);
    pass("StoreChunk of a 1000-byte object -> StoreAck{stored: true}; GetChunk returns the same bytes");

    /* A Delete correctly signed, but by a key that does not own the object. */
    Identity stranger;
    if (!identity_create(&stranger)) {
        fail("Delete: cannot create a second key");
        return;
    }
    req_id = (*next_id)++;
    r = send_delete(c, req_id, stranger.key, id, id, why, sizeof why);
    X509_free(stranger.cert);
    EVP_PKEY_free(stranger.key);
    if (!r) {
        fail("Delete by another key: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR && r->id == req_id &&
        r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_FORBIDDEN) {
        pass("Delete id %llu signed by a key that is not the owner -> Error(FORBIDDEN)", (unsigned long long)req_id);
    } else {
        fail("Delete id %llu signed by a key that is not the owner: answered by %s, expected Error(FORBIDDEN)",
             (unsigned long long)req_id, describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);

    req_id = (*next_id)++;
    r = send_delete(c, req_id, me->key, id, id, why, sizeof why);
    if (!r) {
        fail("Delete by the owner: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_DELETE_ACK && r->delete_ack->removed == 1 &&
        r->delete_ack->absent == 0) {
        pass("Delete id %llu signed by the owner -> DeleteAck{removed: 1, absent: 0}", (unsigned long long)req_id);
    } else {
        char detail[300];
        if (r->body_case == SHOAL__V1__FRAME__BODY_DELETE_ACK)
            snprintf(detail, sizeof detail, "DeleteAck{removed: %u, absent: %u}", r->delete_ack->removed,
                     r->delete_ack->absent);
        else
            describe_frame(r, detail, sizeof detail);
        fail("Delete id %llu signed by the owner: answered by %s, expected DeleteAck{removed: 1, absent: 0}",
             (unsigned long long)req_id, detail);
    }
    shoal__v1__frame__free_unpacked(r, NULL);

    req_id = (*next_id)++;
    r = get_chunk(c, req_id, id, ID_LEN, 0, 0, why, sizeof why);
    if (!r) {
        fail("GetChunk after Delete: %s", why);
        return;
    }
    if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR && r->error->code == SHOAL__V1__ERROR_CODE__ERROR_CODE_GONE) {
        pass("GetChunk id %llu of the deleted object -> Error(GONE)", (unsigned long long)req_id);
    } else {
        fail("GetChunk id %llu of the deleted object: answered by %s, expected Error(GONE)", (unsigned long long)req_id,
             describe_frame(r, d, sizeof d));
    }
    shoal__v1__frame__free_unpacked(r, NULL);
}

/* Reads chunk `index` of the file into `buf`; returns its length (0 at the end), or -1. */
static long read_chunk(FILE *f, uint64_t index, uint8_t *buf) {
    if (fseeko(f, (off_t)(index * CHUNK_SIZE), SEEK_SET) != 0) return -1;
    size_t n = fread(buf, 1, CHUNK_SIZE, f);
    if (n < CHUNK_SIZE && ferror(f)) return -1;
    return (long)n;
}

/* Writes `path` to the node as a private file: chunks sealed under a fresh key, one sealed leaf
 * manifest, every object stored with the root it belongs to. Prints the file's address. */
static void put_private_file(Conn *c, uint64_t *next_id, const Identity *me, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail("private file: cannot open %s: %s", path, strerror(errno));
        return;
    }
    uint8_t file_key[32], owner[65];
    FileKeys k;
    RAND_bytes(file_key, sizeof file_key);
    uint8_t *plain = malloc(CHUNK_SIZE), *sealed = malloc(CHUNK_SIZE + TAG_LEN);
    Shoal__V1__ManifestEntry *entries = calloc(MAX_LEAF_ENTRIES, sizeof *entries);
    Shoal__V1__ManifestEntry **entry_ptrs = calloc(MAX_LEAF_ENTRIES, sizeof *entry_ptrs);
    uint8_t(*ids)[ID_LEN] = calloc(MAX_LEAF_ENTRIES, ID_LEN);
    uint8_t *manifest = NULL, *sealed_manifest = NULL;
    char why[400];
    if (!plain || !sealed || !entries || !entry_ptrs || !ids || !derive_file_keys(file_key, &k) ||
        !x963_public_key(me->key, owner)) {
        fail("private file: out of memory or no crypto");
        goto done;
    }
    /* Pass 1: seal every chunk to learn its ID (the root, and so the manifest, needs them all). */
    uint64_t count = 0, total = 0;
    for (;;) {
        long n = read_chunk(f, count, plain);
        if (n < 0) {
            fail("private file: cannot read %s", path);
            goto done;
        }
        if (n == 0) break;
        if (count == MAX_LEAF_ENTRIES) {
            fail("private file: over %d chunks; this client writes single-leaf manifests only", MAX_LEAF_ENTRIES);
            goto done;
        }
        if (!seal(&k, DOMAIN_CHUNK, count, plain, (size_t)n, sealed)) {
            fail("private file: sealing failed");
            goto done;
        }
        sha256(sealed, (size_t)n + TAG_LEN, ids[count]);
        shoal__v1__manifest_entry__init(&entries[count]);
        entries[count].id.data = ids[count];
        entries[count].id.len = ID_LEN;
        entries[count].size = (uint64_t)n;
        entry_ptrs[count] = &entries[count];
        total += (uint64_t)n;
        count++;
        if (n < CHUNK_SIZE) break;
    }
    if (count == 0) {
        fail("private file: %s is empty", path);
        goto done;
    }
    Shoal__V1__Manifest m = SHOAL__V1__MANIFEST__INIT;
    m.format_version = 1;
    m.total_size = total;
    m.chunk_size = CHUNK_SIZE;
    m.cipher = SHOAL__V1__CIPHER__CIPHER_AES_256_GCM;
    m.depth = 0;
    m.first_chunk = 0;
    m.n_entries = count;
    m.entries = entry_ptrs;
    size_t manifest_len = shoal__v1__manifest__get_packed_size(&m);
    manifest = malloc(manifest_len);
    sealed_manifest = malloc(manifest_len + TAG_LEN);
    if (!manifest || !sealed_manifest) {
        fail("private file: out of memory");
        goto done;
    }
    shoal__v1__manifest__pack(&m, manifest);
    /* The root's seal index is fixed: 0xffffffffffffffff. */
    if (!seal(&k, DOMAIN_MANIFEST, UINT64_MAX, manifest, manifest_len, sealed_manifest)) {
        fail("private file: sealing the manifest failed");
        goto done;
    }
    uint8_t root[ID_LEN];
    sha256(sealed_manifest, manifest_len + TAG_LEN, root);

    /* Pass 2: store the chunks (sealing is deterministic), then the root manifest last. */
    for (uint64_t i = 0; i < count; i++) {
        long n = read_chunk(f, i, plain);
        if (n != (long)entries[i].size || !seal(&k, DOMAIN_CHUNK, i, plain, (size_t)n, sealed)) {
            fail("private file: %s changed while it was being stored", path);
            goto done;
        }
        if (!store_ok(c, next_id, ids[i], sealed, (size_t)n + TAG_LEN, SHOAL__V1__OBJECT_KIND__OBJECT_KIND_CHUNK, root,
                      owner, why, sizeof why)) {
            fail("private file: chunk %llu: %s", (unsigned long long)i, why);
            goto done;
        }
    }
    if (!store_ok(c, next_id, root, sealed_manifest, manifest_len + TAG_LEN,
                  SHOAL__V1__OBJECT_KIND__OBJECT_KIND_MANIFEST, root, owner, why, sizeof why)) {
        fail("private file: root manifest: %s", why);
        goto done;
    }
    char hex[2 * ID_LEN + 1], b64[64];
    hex_encode(root, ID_LEN, hex);
    base64url(file_key, sizeof file_key, b64);
    pass("private file: %llu bytes sealed into %llu chunk(s) + 1 manifest, all stored (StoreAck{stored: true})",
         (unsigned long long)total, (unsigned long long)count);
    printf("private-address %s.%s\n", hex, b64);
done:
    fclose(f);
    free(plain);
    free(sealed);
    free(entries);
    free(entry_ptrs);
    free(ids);
    free(manifest);
    free(sealed_manifest);
}

/* ------------------------------------------------------------------------------------------ */
/* Rule-breaking connections: each must end with the right Error and a close. */

typedef enum {
    AFTER_HELLO,  /* complete the Hello exchange, then break the rule */
    BEFORE_HELLO, /* break the rule instead of sending Hello */
} Stage;

typedef struct {
    const char *label;
    Stage stage;
    int code;                /* expected ErrorCode */
    bool request_id;         /* the Error must carry the offending request's id */
    bool close_is_enough;    /* a bare close (without the Error) also satisfies the rule */
} Violation;

enum { BAD_REQUEST_ID = 77 };

static bool send_violation(Conn *c, const Identity *me, int which) {
    switch (which) {
    case 0: { /* length prefix one byte over the 9 MiB limit, no body */
        uint8_t prefix[10];
        size_t p = put_uvarint(prefix, (uint64_t)MAX_FRAME + 1);
        return send_raw(c, prefix, p);
    }
    case 1: /* Hello with protocol_version 2 */
        return send_hello(c, 2, me->id, ID_LEN);
    case 2: { /* Hello claiming a NodeID that is not the certificate's */
        uint8_t other[ID_LEN];
        memcpy(other, me->id, ID_LEN);
        other[0] ^= 0xff;
        return send_hello(c, 1, other, ID_LEN);
    }
    case 3: { /* a Ping instead of Hello */
        Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = 1;
        f.body_case = SHOAL__V1__FRAME__BODY_PING;
        f.ping = &ping;
        return send_frame(c, &f);
    }
    case 4: { /* a Frame with no body */
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = BAD_REQUEST_ID;
        return send_frame(c, &f);
    }
    case 5: { /* bytes that are not a protobuf Frame: field 1 as a truncated varint */
        static const uint8_t junk[] = {0x03, 0x08, 0xff, 0xff};
        return send_raw(c, junk, sizeof junk);
    }
    case 6: { /* GetChunk with a 3-byte id */
        static const uint8_t short_id_bytes[] = {1, 2, 3};
        Shoal__V1__GetChunk get = SHOAL__V1__GET_CHUNK__INIT;
        get.id.data = (uint8_t *)short_id_bytes;
        get.id.len = sizeof short_id_bytes;
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = BAD_REQUEST_ID;
        f.body_case = SHOAL__V1__FRAME__BODY_GET_CHUNK;
        f.get_chunk = &get;
        return send_frame(c, &f);
    }
    case 8: /* Hello whose node_id is 31 bytes: a malformed field, not an identity mismatch */
        return send_hello(c, 1, me->id, ID_LEN - 1);
    case 7: { /* Ping with a 65-byte payload */
        uint8_t payload[MAX_PING_PAYLOAD + 1];
        memset(payload, 'x', sizeof payload);
        Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
        ping.payload.data = payload;
        ping.payload.len = sizeof payload;
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = BAD_REQUEST_ID;
        f.body_case = SHOAL__V1__FRAME__BODY_PING;
        f.ping = &ping;
        return send_frame(c, &f);
    }
    }
    return false;
}

static const Violation VIOLATIONS[] = {
    {"length prefix of 9 MiB + 1", AFTER_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_FRAME_TOO_LARGE, false, true},
    {"Hello with protocol_version 2", BEFORE_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_UNSUPPORTED_VERSION, false, false},
    {"Hello with a NodeID not matching the certificate", BEFORE_HELLO,
     SHOAL__V1__ERROR_CODE__ERROR_CODE_IDENTITY_MISMATCH, false, false},
    {"Ping before Hello", BEFORE_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_PROTOCOL, false, false},
    {"Frame without a body", AFTER_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_PROTOCOL, false, false},
    {"bytes that are not a protobuf Frame", AFTER_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_PROTOCOL, false, false},
    {"GetChunk with a 3-byte id", AFTER_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST, true, false},
    {"Ping with a 65-byte payload", AFTER_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST, true, false},
    {"Hello with a 31-byte node_id", BEFORE_HELLO, SHOAL__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST, false, false},
};

static void check_violation(SSL_CTX *ctx, const char *host, const char *port, const uint8_t *expect_id, int timeout,
                            const Identity *me, int which) {
    const Violation *v = &VIOLATIONS[which];
    Conn c;
    char why[400], buf[300], d[300];
    if (!conn_open(&c, ctx, host, port, expect_id, timeout, why, sizeof why)) {
        fail("%s: %s", v->label, why);
        conn_close(&c);
        return;
    }
    if (v->stage == AFTER_HELLO) {
        if (!send_hello(&c, 1, me->id, ID_LEN) || !receive_hello(&c, why, sizeof why)) {
            fail("%s: Hello exchange failed: %s", v->label, c.last_error[0] ? c.last_error : why);
            conn_close(&c);
            return;
        }
    }
    if (!send_violation(&c, me, which)) {
        fail("%s: could not send (%s)", v->label, c.last_error);
        conn_close(&c);
        return;
    }
    /* Read until an Error (skipping the node's Hello and anything unrelated), then expect a close. */
    Shoal__V1__Frame *err = NULL;
    IoStatus st = IO_OK;
    for (int i = 0; i < MAX_FRAMES_PER_WAIT && !err; i++) {
        Shoal__V1__Frame *f = NULL;
        st = recv_frame(&c, &f);
        if (st != IO_OK) break;
        if (f->body_case == SHOAL__V1__FRAME__BODY_ERROR) err = f;
        else shoal__v1__frame__free_unpacked(f, NULL);
    }
    if (!err) {
        if (st == IO_CLOSED && v->close_is_enough) {
            pass("%s -> connection closed (no Error frame)", v->label);
        } else {
            fail("%s: expected Error(%s) then close, got: %s", v->label, error_code_name(v->code),
                 wait_failure(&c, st, buf, sizeof buf));
        }
        conn_close(&c);
        return;
    }
    uint64_t want_id = v->request_id ? BAD_REQUEST_ID : 0;
    if ((int)err->error->code != v->code || (v->request_id && err->id != want_id)) {
        fail("%s: answered by %s, expected Error(%s)%s", v->label, describe_frame(err, d, sizeof d),
             error_code_name(v->code), v->request_id ? " with the request's id 77" : "");
        shoal__v1__frame__free_unpacked(err, NULL);
        conn_close(&c);
        return;
    }
    uint64_t got_id = err->id;
    shoal__v1__frame__free_unpacked(err, NULL);
    /* After the Error, the node closes the connection: nothing but frames already in flight, then EOF. */
    c.last_error[0] = '\0';
    for (int i = 0; i < MAX_FRAMES_PER_WAIT; i++) {
        Shoal__V1__Frame *f = NULL;
        st = recv_frame(&c, &f);
        if (st != IO_OK) break;
        shoal__v1__frame__free_unpacked(f, NULL);
    }
    if (st == IO_CLOSED) {
        pass("%s -> Error(%s) id %llu, then close", v->label, error_code_name(v->code), (unsigned long long)got_id);
    } else {
        fail("%s: Error(%s) received, but the connection did not close: %s", v->label, error_code_name(v->code),
             wait_failure(&c, st, buf, sizeof buf));
    }
    conn_close(&c);
}

/* A client whose certificate key is P-384 (not P-256) must be refused: during TLS, with an Error,
 * or by a close; it must never get answers. */
static void check_wrong_curve(const char *host, const char *port, const uint8_t *expect_id, int timeout) {
    Identity odd;
    SSL_CTX *ctx = NULL;
    if (!identity_create_on(&odd, NID_secp384r1) || !(ctx = make_tls_context(&odd))) {
        fail("P-384 client certificate: cannot create the key or TLS context");
        X509_free(odd.cert);
        EVP_PKEY_free(odd.key);
        return;
    }
    Conn c;
    char why[400], d[300];
    const char *label = "client certificate with a P-384 key";
    if (!conn_open(&c, ctx, host, port, expect_id, timeout, why, sizeof why)) {
        pass("%s -> refused during TLS", label);
    } else if (!send_hello(&c, 1, odd.id, ID_LEN)) {
        pass("%s -> connection closed", label);
    } else {
        static const char payload[] = "p384";
        Shoal__V1__Ping ping = SHOAL__V1__PING__INIT;
        ping.payload.data = (uint8_t *)payload;
        ping.payload.len = 4;
        Shoal__V1__Frame f = SHOAL__V1__FRAME__INIT;
        f.id = 1;
        f.body_case = SHOAL__V1__FRAME__BODY_PING;
        f.ping = &ping;
        send_frame(&c, &f);
        Shoal__V1__Frame *r = NULL;
        IoStatus st = IO_OK;
        bool answered = false;
        for (int i = 0; i < MAX_FRAMES_PER_WAIT && st == IO_OK && !answered; i++) {
            st = recv_frame(&c, &r);
            if (st != IO_OK) break;
            if (r->body_case == SHOAL__V1__FRAME__BODY_ERROR) {
                pass("%s -> %s, then refused", label, describe_frame(r, d, sizeof d));
                shoal__v1__frame__free_unpacked(r, NULL);
                r = NULL;
                st = IO_BAD;
                break;
            }
            answered = r->body_case == SHOAL__V1__FRAME__BODY_PONG;
            shoal__v1__frame__free_unpacked(r, NULL);
            r = NULL;
        }
        if (answered) fail("%s: the node accepted it and answered a Ping (only P-256 identities are valid)", label);
        else if (st == IO_CLOSED) pass("%s -> connection closed without an answer", label);
        else if (st == IO_TIMEOUT) fail("%s: the node neither answered nor closed within %d s", label, timeout);
    }
    conn_close(&c);
    SSL_CTX_free(ctx);
    X509_free(odd.cert);
    EVP_PKEY_free(odd.key);
}

/* TLS completes but no Hello follows: the node must close the connection within the 10 s
 * handshake timeout (counted from accept). */
static void check_handshake_timeout(SSL_CTX *ctx, const char *host, const char *port, const uint8_t *expect_id,
                                    int timeout) {
    enum { HANDSHAKE_TIMEOUT = 10, GRACE = 5 };
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    Conn c;
    char why[400], buf[300];
    int wait = HANDSHAKE_TIMEOUT + GRACE > timeout ? HANDSHAKE_TIMEOUT + GRACE : timeout;
    if (!conn_open(&c, ctx, host, port, expect_id, wait, why, sizeof why)) {
        fail("handshake timeout: %s", why);
        conn_close(&c);
        return;
    }
    IoStatus st = IO_OK;
    for (int i = 0; i < MAX_FRAMES_PER_WAIT && st == IO_OK; i++) {
        Shoal__V1__Frame *f = NULL;
        st = recv_frame(&c, &f); /* the node's Hello, then nothing */
        if (f) shoal__v1__frame__free_unpacked(f, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    if (st == IO_CLOSED && elapsed <= HANDSHAKE_TIMEOUT + GRACE) {
        pass("no Hello after TLS -> the node closed the connection after %.1f s (handshake timeout 10 s)", elapsed);
    } else {
        fail("no Hello after TLS: after %.1f s: %s; expected a close within the 10 s handshake timeout", elapsed,
             wait_failure(&c, st, buf, sizeof buf));
    }
    conn_close(&c);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    char host[256];
    char port[16];
    bool have_expect_id;
    uint8_t expect_id[ID_LEN];
    bool have_get;
    uint8_t get_id[ID_LEN];
    bool walk;
    bool have_expect_sha;
    uint8_t expect_sha[ID_LEN];
    bool negative;
    bool write;
    const char *put_private;
    int timeout;
} Options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: shoal-interop HOST:PORT [options]\n"
            "  HOST:PORT             a Shoal node's peer address (\"[v6]:port\" for IPv6)\n"
            "  --expect-id HEX       the node's NodeID (64 hex); the TLS handshake is aborted if the\n"
            "                        server certificate's key hashes to anything else\n"
            "  --get HEX             fetch this object (64 hex content ID) and verify its SHA-256\n"
            "  --walk                treat the --get object as a public file's root manifest: fetch\n"
            "                        and verify every manifest node and chunk\n"
            "  --expect-sha256 HEX   with --walk: the SHA-256 the file's plaintext must have\n"
            "  --timeout SECONDS     bound on every read and write (default 10)\n"
            "  --skip-negative       skip the rule-breaking connections\n"
            "  --write               also check StoreChunk and Delete (stores, then deletes, a 1000-byte object)\n"
            "  --put-private FILE    store FILE as a private file and print \"private-address ROOT.KEY\"\n"
            "  --test-vectors        print the sealing test vectors of Protocol/README.md and exit\n"
            "  --verbose             print every frame sent and received\n");
}

static bool parse_target(const char *text, Options *o) {
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') return false;
        size_t hl = (size_t)(close - text - 1);
        if (hl == 0 || hl >= sizeof o->host) return false;
        memcpy(o->host, text + 1, hl);
        o->host[hl] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) return false;
        size_t hl = (size_t)(colon - text);
        if (hl == 0 || hl >= sizeof o->host) return false;
        memcpy(o->host, text, hl);
        o->host[hl] = '\0';
    }
    const char *port = colon + 1;
    size_t pl = strlen(port);
    if (pl == 0 || pl >= sizeof o->port || strspn(port, "0123456789") != pl || atoi(port) > 65535) return false;
    memcpy(o->port, port, pl + 1);
    return true;
}

static int parse_options(int argc, char **argv, Options *o) {
    memset(o, 0, sizeof *o);
    o->negative = true;
    o->timeout = 10;
    bool have_target = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--expect-id") == 0 && value) {
            if (!parse_id(value, o->expect_id)) return fprintf(stderr, "--expect-id needs 64 hex digits\n"), -1;
            o->have_expect_id = true;
            i++;
        } else if (strcmp(a, "--get") == 0 && value) {
            if (!parse_id(value, o->get_id))
                return fprintf(stderr, "--get needs a 64-hex content ID (a private address's key part is not used)\n"),
                       -1;
            o->have_get = true;
            i++;
        } else if (strcmp(a, "--expect-sha256") == 0 && value) {
            if (!parse_id(value, o->expect_sha)) return fprintf(stderr, "--expect-sha256 needs 64 hex digits\n"), -1;
            o->have_expect_sha = true;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && value) {
            o->timeout = atoi(value);
            if (o->timeout < 1 || o->timeout > 600) return fprintf(stderr, "--timeout must be 1..600 seconds\n"), -1;
            i++;
        } else if (strcmp(a, "--walk") == 0) {
            o->walk = true;
        } else if (strcmp(a, "--test-vectors") == 0) {
            exit(print_test_vectors());
        } else if (strcmp(a, "--write") == 0) {
            o->write = true;
        } else if (strcmp(a, "--put-private") == 0 && value) {
            o->put_private = value;
            i++;
        } else if (strcmp(a, "--skip-negative") == 0) {
            o->negative = false;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g_verbose = true;
        } else if (a[0] != '-' && !have_target) {
            if (!parse_target(a, o)) return fprintf(stderr, "not HOST:PORT: '%s'\n", a), -1;
            have_target = true;
        } else {
            return fprintf(stderr, "unknown or incomplete option '%s'\n", a), -1;
        }
    }
    if (!have_target) return fprintf(stderr, "missing HOST:PORT\n"), -1;
    if (o->walk && !o->have_get) return fprintf(stderr, "--walk needs --get ROOT_ID\n"), -1;
    return 0;
}

static int finish(void) {
    printf("interop: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    Options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

    Identity me;
    if (!identity_create(&me)) {
        fprintf(stderr, "interop: cannot create a P-256 key and certificate with OpenSSL\n");
        return 1;
    }
    char hex[2 * ID_LEN + 1];
    hex_encode(me.id, ID_LEN, hex);
    printf("client NodeID %s (ephemeral P-256 key, self-signed certificate)\n", hex);
    SSL_CTX *ctx = make_tls_context(&me);
    if (!ctx) {
        fprintf(stderr, "interop: cannot set up a TLS 1.3 client context\n");
        return 1;
    }
    const uint8_t *expect = o.have_expect_id ? o.expect_id : NULL;

    /* 1. TLS 1.3 with mutual authentication. */
    Conn c;
    char why[400];
    if (!conn_open(&c, ctx, o.host, o.port, expect, o.timeout, why, sizeof why)) {
        fail("TLS 1.3 to %s:%s: %s", o.host, o.port, why);
        conn_close(&c);
        return finish();
    }
    hex_encode(c.peer_id, ID_LEN, hex);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
    if (!c.cert_requested) {
        fail("TLS 1.3: the node did not request a client certificate (mutual authentication is required)");
    } else {
        pass("TLS 1.3 handshake, client certificate requested and sent; server key is P-256, NodeID %s%s; ALPN %s", hex,
             expect ? " (as expected)" : " (derived)", alpn_len ? "shoal/1" : "not selected");
    }

    /* 2. Hello exchange: both sides send Hello at once. */
    if (!send_hello(&c, 1, me.id, ID_LEN)) {
        fail("Hello: could not send (%s)", c.last_error);
        conn_close(&c);
        return finish();
    }
    if (!receive_hello(&c, why, sizeof why)) {
        fail("Hello: %s", why);
        conn_close(&c);
        return finish();
    }
    pass("Hello exchange: node speaks protocol_version 1, Hello.node_id equals its certificate's NodeID; %s", why);

    /* 3. Requests. */
    check_ping(&c);
    check_find_node(&c, &me);
    uint64_t next_id = 3;
    if (o.have_get) {
        uint8_t *data = NULL;
        size_t len = 0;
        int requests = 0;
        char s[17];
        if (!fetch_object(&c, &next_id, o.get_id, &data, &len, &requests, why, sizeof why)) {
            fail("GetChunk id 3 of %s: %s", short_id(o.get_id, ID_LEN, s), why);
        } else {
            pass("GetChunk id 3 of %s -> ChunkData, %zu bytes in %d request(s), total_size matches, SHA-256 == id",
                 short_id(o.get_id, ID_LEN, s), len, requests);
            check_ranged_get(&c, &next_id, o.get_id, data, len);
            check_get_bounds(&c, &next_id, o.get_id, len);
            check_find_value(&c, &next_id, o.get_id, len);
            if (o.walk) check_walk(&c, &next_id, data, len, o.have_expect_sha, o.expect_sha);
            free(data);
        }
    }
    check_not_found(&c, &next_id);
    check_client_only_gossip(&c, &next_id);
    check_bad_copy(&c, &next_id);
    check_pipelining(&c, 1000);
    next_id = 2000;
    if (o.write) check_store_and_delete(&c, &next_id, &me);
    if (o.put_private) put_private_file(&c, &next_id, &me, o.put_private);
    conn_close(&c);

    /* 4. Each rule broken on a connection of its own. */
    if (o.negative) {
        for (int i = 0; i < (int)(sizeof VIOLATIONS / sizeof VIOLATIONS[0]); i++)
            check_violation(ctx, o.host, o.port, expect, o.timeout, &me, i);
        check_wrong_curve(o.host, o.port, expect, o.timeout);
        check_handshake_timeout(ctx, o.host, o.port, expect, o.timeout);
    }

    SSL_CTX_free(ctx);
    X509_free(me.cert);
    EVP_PKEY_free(me.key);
    return finish();
}

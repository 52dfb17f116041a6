#!/usr/bin/env python3
"""Development server for the node's web UI; not used by the node, nor by CI by default.

It serves Sources/ShoalNode/WebUI/index.html at / straight from disk (re-read on every request, so
an edit shows on reload, with no Swift rebuild) and proxies /v1/* and /metrics to a running node's
HTTP API, streaming both ways (uploads, and downloads with Range). That lets the page be worked on
against a real node, including one that does not serve / itself.

    shoal node --listen 127.0.0.1:0 --data /tmp/n1 --api 127.0.0.1:0 &
    python3 Tests/browser/devserver.py --api "$(cat /tmp/n1/api)"      # prints the URL to open
    SHOAL_UI_URL=http://127.0.0.1:PORT/ python3 Tests/browser/test_webui.py   # the browser test through it

The proxy rewrites Host to the node's own address and drops Origin and Referer, because the node
refuses requests whose Host is foreign and mutating requests whose Origin is (the page's origin here
is the dev server's, not the node's). Authorization passes through. Loopback only.

--emulate-keyring answers GET /v1/files itself, from the uploads made through this dev server, when
the node answers it 404 (a node from before that endpoint), so the page's keyring view can be
worked on; the real endpoint wins as soon as the node has it.
"""
import argparse
import http.client
import http.server
import os
import datetime
import json
import socketserver
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HTML = os.path.normpath(os.path.join(HERE, "..", "..", "Sources", "ShoalNode", "WebUI", "index.html"))
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate"}
DROP_REQUEST = HOP | {"host", "origin", "referer", "content-length", "accept-encoding"}
PIECE = 64 * 1024
# The headers the page is meant to be served with (the node's route for / should send the same):
# everything inline, nothing from elsewhere, no framing (the page has delete buttons).
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
                               "connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


def is_loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "shoal-devserver"

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("devserver: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        if self.path.split("?")[0] in ("/", "/index.html"):
            return self.page()
        self.proxy()

    def do_HEAD(self):
        self.do_GET()

    do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = lambda self: self.proxy()

    def page(self):
        try:
            with open(self.server.html, "rb") as f:
                body = f.read()
        except OSError as e:
            return self.plain(500, "cannot read %s: %s\n" % (self.server.html, e))
        self.send_response(200)
        for k, v in PAGE_HEADERS.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def plain(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def request_body(self):
        """Yields the request body in pieces: Content-Length or chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, PIECE))
                    if not piece:
                        return
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                piece = self.rfile.read(min(left, PIECE))
                if not piece:
                    return
                left -= len(piece)
                yield piece

    def proxy(self):
        path = self.path
        if not (path.startswith("/v1/") or path == "/metrics" or path.startswith("/metrics?")):
            return self.plain(404, "devserver: only /, /v1/* and /metrics exist here\n")
        host, port = self.server.api
        route = urllib.parse.urlsplit(path).path
        conn = http.client.HTTPConnection(host, port, timeout=300)
        try:
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", "%s:%d" % (host, port))
            for k, v in self.headers.items():
                if k.lower() not in DROP_REQUEST:
                    conn.putheader(k, v)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif self.headers.get("Content-Length") is not None:
                conn.putheader("Content-Length", self.headers["Content-Length"])
            conn.endheaders()
            for piece in self.request_body():
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
        except OSError as e:
            conn.close()
            self.close_connection = True
            return self.plain(502, '{"error":"devserver: the node at %s:%d did not answer: %s","code":"proxy"}' % (host, port, e))
        if self.server.keyring is not None and route.startswith("/v1/files"):
            if self.emulate_keyring(route, path, resp):
                conn.close()
                return
        try:
            self.send_response(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() not in ("server", "date"):
                    self.send_header(k, v)
            if length is None and self.command != "HEAD" and resp.status not in (204, 304):
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                while True:
                    piece = resp.read(PIECE)
                    if not piece:
                        break
                    self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True   # the browser went away (a player seeking, a cancelled download)
        finally:
            conn.close()


    def emulate_keyring(self, route, path, resp):
        """Records uploads and deletes; answers GET /v1/files when the node has no such route.
        Returns True when it answered the request itself."""
        keyring, lock = self.server.keyring, self.server.lock
        if self.command == "GET" and route == "/v1/files" and resp.status in (404, 405):
            resp.read()
            with lock:
                body = json.dumps(list(reversed(keyring))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True
        if self.command not in ("POST", "DELETE"):
            return False
        body = resp.read()   # small JSON answers: buffer them, note them, pass them on
        if self.command == "POST" and route == "/v1/files" and resp.status == 201:
            put = json.loads(body)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            with lock:
                keyring.append({"address": put["address"], "root": put["address"].split(".")[0],
                                "name": query.get("name", [""])[0], "size": put["size"], "isPublic": put["isPublic"],
                                "createdAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        elif self.command == "DELETE" and resp.status == 200:
            gone = urllib.parse.unquote(route[len("/v1/files/"):]).split(".")[0]
            with lock:
                keyring[:] = [f for f in keyring if f["root"] != gone]
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() not in ("server", "date", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def split_hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser(description="Serve the web UI from disk and proxy the API of a running node (loopback only).")
    ap.add_argument("--api", required=True, help="the node's API address, HOST:PORT (as in DATA/api)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="where to serve (loopback; port 0 picks one) [127.0.0.1:0]")
    ap.add_argument("--html", default=DEFAULT_HTML, help="the page to serve [%(default)s]")
    ap.add_argument("--url-file", help="write the URL to this file once listening")
    ap.add_argument("--quiet", action="store_true", help="do not log requests")
    ap.add_argument("--emulate-keyring", action="store_true",
                    help="answer GET /v1/files from this server's uploads while the node answers it 404")
    args = ap.parse_args()
    api = split_hostport(args.api)
    listen = split_hostport(args.listen)
    if not is_loopback(api[0]) or not is_loopback(listen[0]):
        sys.exit("devserver: loopback addresses only (got --api %s, --listen %s)" % (args.api, args.listen))
    server = Server(listen, Handler)
    server.api, server.html, server.quiet = api, args.html, args.quiet
    server.keyring = [] if args.emulate_keyring else None
    server.lock = threading.Lock()
    url = "http://%s:%d/" % (listen[0], server.server_address[1])
    if args.url_file:
        with open(args.url_file + ".tmp", "w") as f:
            f.write(url + "\n")
        os.replace(args.url_file + ".tmp", args.url_file)
    print("devserver: %s serves %s, proxying the API of %s" % (url, args.html, args.api), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

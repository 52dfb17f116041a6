import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// Keeps web pages the user visits from using the local API (DNS rebinding, cross-site POSTs):
/// - a request whose `Host` names neither the API's own address nor a loopback name is refused
///   (421), so a page on a domain that resolves to 127.0.0.1 cannot read anything;
/// - a mutating request (POST, PUT, PATCH, DELETE) whose `Origin` is not the API's own origin is
///   refused (403), so a page cannot upload or delete (a text/plain POST needs no CORS preflight);
/// - no CORS headers are ever sent, so browsers keep other origins from reading answers.
/// Requests without `Host` or `Origin` (command-line clients) pass.
struct APIGuard<Context: RequestContext>: RouterMiddleware {
    /// Host names accepted besides the loopback names: the address the API is bound to.
    let boundHost: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let host = request.head.authority, !Self.accepts(host: Self.hostName(of: host), boundHost: boundHost) {
            throw APIError(
                status: .misdirectedRequest, code: "foreign_host",
                message:
                    "the Shoal API answers only requests addressed to it (Host \(boundHost), localhost or 127.0.0.1), not to '\(host)'"
            )
        }
        if [.post, .put, .patch, .delete].contains(request.method), let origin = request.headers[.origin] {
            guard let host = Self.originHost(origin), Self.accepts(host: host, boundHost: boundHost) else {
                throw APIError(
                    status: .forbidden, code: "foreign_origin",
                    message: "a page from \(origin) may not change anything through the Shoal API")
            }
        }
        return try await next(request, context)
    }

    static func accepts(host: String, boundHost: String) -> Bool {
        let name = host.lowercased()
        if name == boundHost.lowercased() && !["0.0.0.0", "::", "[::]"].contains(name) { return true }
        return name == "localhost" || name == "::1" || name == "[::1]" || isIPv4Loopback(name)
    }

    private static func isIPv4Loopback(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { p in UInt8(p) != nil && p.allSatisfy(\.isASCII) }
    }

    /// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
    static func hostName(of header: String) -> String {
        let value = header.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("[") { return value.split(separator: "]").first.map { String($0) + "]" } ?? value }
        return value.split(separator: ":").first.map(String.init) ?? value
    }

    /// The host of an `Origin` (`http://localhost:8080`); `nil` for `null` or anything malformed.
    static func originHost(_ origin: String) -> String? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        let scheme = origin[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        return hostName(of: String(origin[schemeEnd.upperBound...]))
    }
}

/// Requires `Authorization: Bearer <token>` on every request when the node has an API token, but
/// for the web UI's page itself (static, it holds nothing secret, and asks the user for the token).
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let isPage = request.method == .get && request.uri.path == "/"
        guard isPage || request.headers[.authorization] == "Bearer \(token)" else {
            var error = APIError(
                status: .unauthorized, code: "unauthorized",
                message: "missing or wrong API token: send 'Authorization: Bearer <token>' (shoal --api-token)")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        return try await next(request, context)
    }
}

import Foundation
import Hummingbird
import NIOCore
import ShoalCore
import ShoalFile
import ShoalStore
import ShoalWire

/// A failed API request as the client sees it: an HTTP status and a JSON body
/// `{"error": message, "code": code}`. Routes throw any error; ``APIErrorMiddleware`` maps it here.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var headers: HTTPFields = [:]

    init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// Maps what the node throws to the status and code README.md documents.
    init(_ error: any Error) {
        if let error = error as? APIError {
            self = error
            return
        }
        let (status, code): (HTTPResponse.Status, String)
        switch error {
        case is AddressError: (status, code) = (.badRequest, "bad_address")
        case let e as WireError where e.code == .forbidden: (status, code) = (.forbidden, "forbidden")
        case let e as WireError where e.code == .gone: (status, code) = (.gone, "gone")
        case let e as WireError where e.code == .notFound: (status, code) = (.notFound, "not_found")
        case is FetchError: (status, code) = (.notFound, "not_found")
        case is LocalObjectsError: (status, code) = (.gone, "gone")
        case let e as FileReaderError where e.code == .rangeNotSatisfiable:
            (status, code) = (.rangeNotSatisfiable, "range")
        case is FileReaderError, is SealError, is ManifestError: (status, code) = (.unprocessableContent, "unreadable")
        case is PlacementError: (status, code) = (.serviceUnavailable, "insufficient_replicas")
        case let e as ChunkStoreError where e.code == .capacityExceeded || e.code == .diskFull:
            (status, code) = (HTTPResponse.Status(code: 507), "capacity")
        default: (status, code) = (.internalServerError, "internal")
        }
        self.init(status: status, code: code, message: "\(error)")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONEncoder().encode(["error": message, "code": code])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns whatever a route throws into an ``APIError`` response.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            throw APIError(error)
        }
    }
}

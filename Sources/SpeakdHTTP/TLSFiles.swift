import Dispatch
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The certificate chain and key of an HTTPS front door, read from PEM files at start and again on SIGHUP (a renewed
/// certificate is served without a restart; connections already open keep theirs).
///
/// Threading: Sendable; the current context sits behind a mutex, read once per accepted connection.
final class TLSFiles: Sendable {
    let certificate: String
    let key: String
    private let context: Mutex<NIOSSLContext>

    /// Nil when the configuration serves plain HTTP.
    init?(_ configuration: HTTPFrontDoorConfiguration) throws {
        guard let certificate = configuration.certificateFile, let key = configuration.keyFile else { return nil }
        self.certificate = certificate
        self.key = key
        context = Mutex(try Self.load(certificate: certificate, key: key))
    }

    var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on failure the context in use stays.
    func reload() throws {
        let fresh = try Self.load(certificate: certificate, key: key)
        context.withLock { $0 = fresh }
    }

    /// Reloads on every SIGHUP until the returned source is cancelled.
    func reloadOnHangUp(logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try self.reload()
                logger.info("TLS certificate reloaded", metadata: ["certificate": "\(self.certificate)"])
            } catch {
                logger.error("TLS certificate not reloaded; the previous one stays in use", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        return source
    }

    private static func load(certificate: String, key: String) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey)))
        } catch {
            // The error names the files, never the key's contents.
            throw HTTPFrontDoorError(description: "cannot load the TLS certificate \(certificate) or key \(key): \(error)")
        }
    }

    /// HTTP/1.1 behind TLS with whatever context is current when a connection is accepted; a connection beyond
    /// the limit is refused over TLS, so the client can read why.
    func serverBuilder(limit: ConnectionLimit, executor: BackgroundExecutor) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            ReloadingTLSChannel(base: LimitedChannel(base: HTTP1Channel(responder: responder), limit: limit, executor: executor),
                                files: self)
        }
    }
}

/// HummingbirdTLS's TLSChannel, but taking the context from `TLSFiles` per connection.
///
/// Threading: Sendable (immutable).
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let files: TLSFiles

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = files.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

//! What every runtime's [`Connector`](super::Connector) shares, whatever its IO: where a URL
//! leads ([`Target`]: host, port, TLS or not), the rustls client configuration
//! ([`ConnectorOptions`]: the Mozilla roots, added roots, a no-verification option for tests,
//! the WebSocket buffers) and the idle HTTP/1.1 connections kept per origin
//! ([`ConnectionPool`]). A runtime crate adds the TCP dial, the TLS stream type of its IO
//! traits and the HTTP/1.1 exchange.
//!
//! ```
//! use socketio::client::connect::{ConnectionPool, ConnectorOptions, Target};
//!
//! let target = Target::from_uri(&"wss://example.com/socket.io/".parse().unwrap()).unwrap();
//! assert_eq!((target.host.as_str(), target.port, target.secure), ("example.com", 443, true));
//! let tls = ConnectorOptions::new().tls_config(); // Arc<rustls::ClientConfig>
//! # let _ = tls;
//! let pool: ConnectionPool<&str> = ConnectionPool::new();
//! pool.put("https://example.com:443".into(), "a connection");
//! assert_eq!(pool.take("https://example.com:443"), Some("a connection"));
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tungstenite::protocol::WebSocketConfig;

use super::ConnectorError;

/// Idle HTTP/1.1 connections kept per origin by a [`ConnectionPool`] made with
/// [`ConnectionPool::new`].
pub const MAX_IDLE_PER_ORIGIN: usize = 4;

/// The most bytes a client WebSocket keeps unwritten (tungstenite's `max_write_buffer_size`):
/// the 4 KiB write buffer plus 16 MiB, room for one message as large as the engine's send
/// buffer takes. It bounds what a server that stops reading can make the client hold, its
/// own pongs to a flood of WebSocket pings included (tungstenite keeps one pending pong once
/// the buffer is full). A larger message fails the connection.
pub const CLIENT_MAX_WRITE_BUFFER: usize = crate::http::WEBSOCKET_WRITE_BUFFER + (16 << 20);

/// The tungstenite configuration of the client's WebSockets: the server's
/// ([`default_websocket_config`](crate::http::default_websocket_config): 4 KiB buffers,
/// messages up to 1 000 000 bytes) with the write buffer bounded by
/// [`CLIENT_MAX_WRITE_BUFFER`].
///
/// ```
/// let config = socketio::client::connect::client_websocket_config();
/// assert_eq!(config.max_write_buffer_size, socketio::client::connect::CLIENT_MAX_WRITE_BUFFER);
/// assert_eq!(config.max_message_size, Some(1_000_000));
/// ```
pub fn client_websocket_config() -> WebSocketConfig {
    crate::http::default_websocket_config().max_write_buffer_size(CLIENT_MAX_WRITE_BUFFER)
}

/// Where a request URL leads: the host to dial (IPv6 brackets removed), the port (the
/// scheme's default if none), and whether to speak TLS (`https` / `wss`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `https://` or `wss://`.
    pub secure: bool,
}

impl Target {
    /// The target of an absolute `http`, `https`, `ws` or `wss` URI.
    ///
    /// ```
    /// use socketio::client::connect::Target;
    /// let target = Target::from_uri(&"http://[::1]:3000/socket.io/".parse().unwrap()).unwrap();
    /// assert_eq!((target.host.as_str(), target.port, target.secure), ("::1", 3000, false));
    /// ```
    pub fn from_uri(uri: &http::Uri) -> Result<Target, ConnectorError> {
        let secure = match uri.scheme_str() {
            Some("https") | Some("wss") => true,
            Some("http") | Some("ws") => false,
            Some(other) => return Err(ConnectorError::new(format!("unknown scheme {other}"))),
            None => return Err(ConnectorError::new("no scheme")),
        };
        let host = uri.host().ok_or_else(|| ConnectorError::new("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ConnectorError::new("no host"));
        }
        Ok(Target {
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(if secure { 443 } else { 80 }),
            secure,
        })
    }

    /// The name the server's certificate must carry (a DNS name or an IP address).
    ///
    /// ```
    /// use socketio::client::connect::Target;
    /// let target = Target::from_uri(&"https://localhost:3443".parse().unwrap()).unwrap();
    /// assert_eq!(target.server_name().unwrap().to_str(), "localhost");
    /// ```
    pub fn server_name(&self) -> Result<ServerName<'static>, ConnectorError> {
        ServerName::try_from(self.host.clone()).map_err(ConnectorError::new)
    }
}

/// Idle keep-alive connections by `scheme://authority` (the key
/// [`origin_form`](super::origin_form) returns), at most a few per origin. Take one before a
/// request, put it back once the response is read and the connection may carry another.
pub struct ConnectionPool<C> {
    idle: Mutex<HashMap<String, Vec<C>>>,
    max_idle: usize,
}

impl<C> std::fmt::Debug for ConnectionPool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self
            .idle
            .lock()
            .map_or(0, |idle| idle.values().map(Vec::len).sum());
        f.debug_struct("ConnectionPool")
            .field("idle", &idle)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

impl<C> Default for ConnectionPool<C> {
    fn default() -> Self {
        ConnectionPool::new()
    }
}

impl<C> ConnectionPool<C> {
    /// An empty pool keeping at most [`MAX_IDLE_PER_ORIGIN`] connections per origin.
    pub fn new() -> Self {
        ConnectionPool::with_max_idle(MAX_IDLE_PER_ORIGIN)
    }

    /// An empty pool keeping at most `max_idle` connections per origin (0: none).
    pub fn with_max_idle(max_idle: usize) -> Self {
        ConnectionPool {
            idle: Mutex::new(HashMap::new()),
            max_idle,
        }
    }

    /// An idle connection to `origin`, the most recently returned first.
    pub fn take(&self, origin: &str) -> Option<C> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(origin)?;
        let connection = list.pop();
        if list.is_empty() {
            idle.remove(origin);
        }
        connection
    }

    /// Keeps `connection` for the next request to `origin`, unless the origin has its fill
    /// (then it is dropped, which closes it).
    pub fn put(&self, origin: String, connection: C) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(origin).or_default();
            if list.len() < self.max_idle {
                list.push(connection);
            }
        }
    }
}

/// What a runtime's connector builder collects: trusted roots (the Mozilla set from
/// `webpki-roots` plus any added), whether to skip certificate verification (tests only), and
/// the WebSocket configuration ([`client_websocket_config`] unless replaced).
#[derive(Clone)]
pub struct ConnectorOptions {
    roots: RootCertStore,
    accept_invalid_certs: bool,
    websocket: WebSocketConfig,
}

impl std::fmt::Debug for ConnectorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorOptions")
            .field("roots", &self.roots.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("websocket", &self.websocket)
            .finish()
    }
}

impl Default for ConnectorOptions {
    fn default() -> Self {
        ConnectorOptions::new()
    }
}

impl ConnectorOptions {
    /// The Mozilla roots, verification on, the default WebSocket configuration.
    pub fn new() -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        ConnectorOptions {
            roots,
            accept_invalid_certs: false,
            websocket: client_websocket_config(),
        }
    }

    /// Trusts another root certificate (DER), e.g. a test or private CA.
    ///
    /// ```
    /// let mut options = socketio::client::connect::ConnectorOptions::new();
    /// assert!(options.add_root_certificate(b"not a certificate".to_vec()).is_err());
    /// ```
    pub fn add_root_certificate(&mut self, der: impl Into<Vec<u8>>) -> Result<(), ConnectorError> {
        self.roots
            .add(CertificateDer::from(der.into()))
            .map_err(ConnectorError::new)
    }

    /// Accepts any server certificate, for any name, without checking it against the roots
    /// (the handshake signature is still checked). For tests against a self-signed server
    /// only: with it, TLS no longer authenticates the server.
    pub fn danger_accept_invalid_certs(&mut self, accept: bool) {
        self.accept_invalid_certs = accept;
    }

    /// Replaces the WebSocket configuration (buffer sizes, limits).
    pub fn set_websocket_config(&mut self, config: WebSocketConfig) {
        self.websocket = config;
    }

    /// The WebSocket configuration.
    pub fn websocket_config(&self) -> WebSocketConfig {
        self.websocket
    }

    /// Number of trusted root certificates.
    pub fn root_count(&self) -> usize {
        self.roots.len()
    }

    /// The rustls client configuration (ring provider, TLS 1.2 and 1.3, no client
    /// certificate), for a `TlsConnector` of the runtime's TLS crate.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions");
        let config = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth()
        };
        Arc::new(config)
    }
}

/// [`ConnectorOptions::danger_accept_invalid_certs`]: any certificate, signatures still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let target = |uri: &str| Target::from_uri(&uri.parse().unwrap());
        let t = target("https://example.com/x").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.secure),
            ("example.com", 443, true)
        );
        let t = target("ws://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.secure),
            ("127.0.0.1", 8080, false)
        );
        let t = target("http://example.com").unwrap();
        assert_eq!(t.port, 80);
        assert!(target("ftp://example.com").is_err());
        assert!(target("/relative").is_err());
        let name = target("wss://[::1]:1/").unwrap().server_name().unwrap();
        assert!(matches!(name, ServerName::IpAddress(_)));
    }

    #[test]
    fn pool_keeps_a_bounded_number_per_origin() {
        let pool = ConnectionPool::with_max_idle(2);
        for n in 0..3 {
            pool.put("http://a:1".into(), n);
        }
        pool.put("http://b:1".into(), 10);
        assert_eq!(pool.take("http://a:1"), Some(1));
        assert_eq!(pool.take("http://a:1"), Some(0));
        assert_eq!(pool.take("http://a:1"), None);
        assert_eq!(pool.take("http://b:1"), Some(10));
        assert_eq!(pool.take("http://c:1"), None);
    }

    #[test]
    fn options() {
        let mut options = ConnectorOptions::new();
        let mozilla = options.root_count();
        assert!(mozilla > 50);
        assert!(options.add_root_certificate(vec![1, 2, 3]).is_err());
        assert_eq!(options.root_count(), mozilla);
        let _verified = options.tls_config();
        options.danger_accept_invalid_certs(true);
        let _unverified = options.tls_config();
    }
}

//! [`ClientBundle`]: the JavaScript client served under the Socket.IO path, like the official
//! server's `serveClient` option, and any small set of static files (a page, its script and
//! style) served from memory next to it.

use std::{io, path::Path};

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;

/// The file names the official server answers under its path (`socket.io.js`,
/// `socket.io.min.js`, `socket.io.msgpack.min.js`, `socket.io.esm.min.js`, and each `.map`).
const OFFICIAL_NAMES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
];

/// One served file: its URL name, its bytes and its validators.
#[derive(Clone, Debug)]
struct BundleFile {
    name: String,
    body: Bytes,
    etag: HeaderValue,
    content_type: HeaderValue,
}

/// Client files kept in memory and served at `<path>/<name>` with `Content-Type`,
/// `Cache-Control: public, max-age=0`, a strong `ETag` (a hash of the content) and `304` for a
/// matching `If-None-Match`, as socket.io's `serveClient` does.
///
/// The content type follows the file name's extension (see [`content_type`]). A bundle mounted
/// elsewhere ([`at`](Self::at)) also serves static files, with an [`index`](Self::index) for
/// its directory, and bundles at several paths [`merge`](Self::merge) into one, so an HTTP
/// server's single bundle can carry both the official client and a page:
///
/// ```
/// use socketio::ClientBundle;
///
/// let page = ClientBundle::from_bytes("index.html", "<script src=\"/socket.io/socket.io.js\"></script>")
///     .with_file("app.js", "io();")
///     .at("/")
///     .index("index.html");
/// let files = ClientBundle::from_bytes("socket.io.js", "/* the official client */").merge(page);
/// assert_eq!(files.names().collect::<Vec<_>>(), ["socket.io.js", "index.html", "app.js"]);
/// ```
///
/// The files are read once, when the bundle is made; a bundle is cheap to clone.
#[derive(Clone, Debug)]
pub struct ClientBundle {
    /// `None`: the Socket.IO server's own path.
    mount: Option<String>,
    /// The file answered for the mount directory itself (only with a `mount`).
    index: Option<String>,
    files: Vec<BundleFile>,
    /// Bundles merged into this one, each at its own mount, asked after this one's files.
    merged: Vec<ClientBundle>,
}

impl ClientBundle {
    /// Serves `file` (for example `node_modules/socket.io-client/dist/socket.io.min.js`) under its
    /// own file name and under `socket.io.js`; a sibling `<file>.map` is served as `<name>.map`.
    pub fn from_file(file: impl AsRef<Path>) -> io::Result<Self> {
        let file = file.as_ref();
        let body = Bytes::from(std::fs::read(file)?);
        let name = file
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "bundle file name is not UTF-8")
            })?
            .to_owned();
        let mut bundle = Self::empty();
        let map_path = file.with_file_name(format!("{name}.map"));
        if let Ok(map) = std::fs::read(&map_path) {
            bundle.push(format!("{name}.map"), Bytes::from(map));
        }
        if name != "socket.io.js" {
            bundle.push("socket.io.js".to_owned(), body.clone());
        }
        bundle.push(name, body);
        Ok(bundle)
    }

    /// Serves every file of the official names present in `dir` (socket.io-client's `dist/`).
    /// Fails when none is there.
    pub fn from_dir(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref();
        let mut bundle = Self::empty();
        for name in OFFICIAL_NAMES {
            match std::fs::read(dir.join(name)) {
                Ok(body) => bundle.push(name.to_owned(), Bytes::from(body)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        if bundle.files.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no socket.io client file in {}", dir.display()),
            ));
        }
        Ok(bundle)
    }

    /// Serves every regular file directly in `dir` (not its subdirectories) under its own name,
    /// for a static page next to the client; mount it with [`at`](Self::at). Files whose name
    /// is not UTF-8 are skipped; fails when `dir` cannot be read.
    pub fn from_static_dir(dir: impl AsRef<Path>) -> io::Result<Self> {
        let mut bundle = Self::empty();
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            if let Ok(name) = entry.file_name().into_string() {
                entries.push((name, entry.path()));
            }
        }
        entries.sort();
        for (name, path) in entries {
            bundle.push(name, Bytes::from(std::fs::read(path)?));
        }
        Ok(bundle)
    }

    /// Serves `body` as `name` (for a bundle compiled into the binary with `include_bytes!`).
    pub fn from_bytes(name: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut bundle = Self::empty();
        bundle.push(name.into(), body.into());
        bundle
    }

    /// Adds `body` as `name` to this bundle (replacing a file of that name).
    pub fn with_file(mut self, name: impl Into<String>, body: impl Into<Bytes>) -> Self {
        self.push(name.into(), body.into());
        self
    }

    /// Mounts the files under `path` instead of the Socket.IO server's path (the default, as
    /// in the reference server); a trailing `/` is optional. Bundles already
    /// [merged](Self::merge) in keep their own mounts.
    pub fn at(mut self, path: &str) -> Self {
        self.mount = Some(normalize_mount(path));
        self
    }

    /// Answers a request for the mount directory itself (`<path>/`, e.g. `/` for a page at
    /// the root) with the file `name` of this bundle, like a web server's `index.html`. It
    /// takes effect only with an [`at`](Self::at) path: the Socket.IO server's own path is its
    /// Engine.IO endpoint.
    pub fn index(mut self, name: impl Into<String>) -> Self {
        self.index = Some(name.into());
        self
    }

    /// Also serves the files of `other`, at `other`'s own mount (its [`at`](Self::at) path, or
    /// the Socket.IO server's path), after this bundle's files: one bundle, given to an HTTP
    /// server's `serve_client`, then answers several paths (the client and a page).
    pub fn merge(mut self, mut other: ClientBundle) -> Self {
        let nested = std::mem::take(&mut other.merged);
        self.merged.push(other);
        self.merged.extend(nested);
        self
    }

    /// The names served, each under its bundle's mount path (this bundle's files, then those
    /// of the bundles [merged](Self::merge) in).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self)
            .chain(&self.merged)
            .flat_map(|bundle| bundle.files.iter().map(|file| file.name.as_str()))
    }

    fn empty() -> Self {
        Self {
            mount: None,
            index: None,
            files: Vec::new(),
            merged: Vec::new(),
        }
    }

    fn push(&mut self, name: String, body: Bytes) {
        let content_type = HeaderValue::from_static(content_type(&name));
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(&body)))
            .expect("hex digits in quotes are a valid header value");
        self.files.retain(|file| file.name != name);
        self.files.push(BundleFile {
            name,
            body,
            etag,
            content_type,
        });
    }

    /// Whether a request with this method and path asks for one of the files; `handles` is the
    /// Socket.IO server's path test, used when no [`at`](Self::at) path is set.
    pub fn matches(&self, method: &Method, path: &str, handles: impl Fn(&str) -> bool) -> bool {
        self.find(method, path, handles).is_some()
    }

    fn find(
        &self,
        method: &Method,
        path: &str,
        handles: impl Fn(&str) -> bool,
    ) -> Option<&BundleFile> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let slash = path.rfind('/')?;
        let (dir, name) = (&path[..=slash], &path[slash + 1..]);
        std::iter::once(self)
            .chain(&self.merged)
            .find_map(|bundle| bundle.find_own(dir, name, &handles))
    }

    /// This bundle's file for `<dir><name>`, without the merged bundles.
    fn find_own(
        &self,
        dir: &str,
        name: &str,
        handles: impl Fn(&str) -> bool,
    ) -> Option<&BundleFile> {
        let name = match &self.mount {
            Some(mount) if dir != mount => return None,
            Some(_) if name.is_empty() => self.index.as_deref()?,
            Some(_) => name,
            // The server's path is the shortest directory it handles.
            None if handles(dir) && parent_dir(dir).is_none_or(|parent| !handles(parent)) => name,
            None => return None,
        };
        self.files.iter().find(|file| file.name == name)
    }

    /// The response for a request that [`matches`](Self::matches) (`404` for any other).
    pub fn respond(
        &self,
        parts: &http::request::Parts,
        handles: impl Fn(&str) -> bool,
    ) -> Response<Full<Bytes>> {
        let Some(file) = self.find(&parts.method, parts.uri.path(), handles) else {
            return super::plain(StatusCode::NOT_FOUND, "Not Found");
        };
        let weak_match = |tag: &[u8]| {
            tag == file.etag.as_bytes() || tag.strip_prefix(b"W/") == Some(file.etag.as_bytes())
        };
        let not_modified = parts
            .headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .any(|tag| weak_match(tag.trim_ascii()));
        let mut response = Response::builder()
            .header(header::CACHE_CONTROL, "public, max-age=0")
            .header(header::ETAG, file.etag.clone());
        if not_modified {
            response = response.status(StatusCode::NOT_MODIFIED);
            return response.body(Full::default()).expect("valid response");
        }
        let body = if parts.method == Method::HEAD {
            Bytes::new()
        } else {
            file.body.clone()
        };
        response
            .header(header::CONTENT_TYPE, file.content_type.clone())
            .header(header::CONTENT_LENGTH, file.body.len())
            .body(Full::new(body))
            .expect("valid response")
    }
}

/// The `Content-Type` of a served file, from its name's extension (case-insensitive): `html`
/// and `htm`, `css`, `js` and `mjs`, `json` and `map` (source maps), `txt`, `svg`, `png`,
/// `ico` and `wasm`; `application/octet-stream` for any other.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// `/a/b/` → `/a/`; `/` → none.
fn parent_dir(dir: &str) -> Option<&str> {
    let trimmed = dir.strip_suffix('/')?;
    trimmed.rfind('/').map(|slash| &dir[..=slash])
}

fn normalize_mount(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    format!("/{trimmed}/")
}

/// 64-bit FNV-1a: a stable content hash for the ETag (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, if_none_match: Option<&str>) -> http::request::Parts {
        let mut request = http::Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn serves_under_mount_with_etag_and_304() {
        let bundle = ClientBundle::from_bytes("socket.io.min.js", "x=1").at("/io");
        let never = |_: &str| false;
        assert!(bundle.matches(&Method::GET, "/io/socket.io.min.js", never));
        assert!(!bundle.matches(&Method::POST, "/io/socket.io.min.js", never));
        assert!(!bundle.matches(&Method::GET, "/socket.io/socket.io.min.js", never));
        let response = bundle.respond(&get("/io/socket.io.min.js", None), never);
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        let weak = format!("W/{etag}");
        for tag in [etag.as_str(), weak.as_str()] {
            let response = bundle.respond(&get("/io/socket.io.min.js", Some(tag)), never);
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        }
        let response = bundle.respond(&get("/io/socket.io.min.js", Some("\"other\"")), never);
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn follows_the_server_path_by_default() {
        let bundle = ClientBundle::from_bytes("socket.io.js", "x=1");
        let handles = |path: &str| path.starts_with("/chat/io/");
        assert!(bundle.matches(&Method::GET, "/chat/io/socket.io.js", handles));
        assert!(!bundle.matches(&Method::GET, "/chat/io/deeper/socket.io.js", handles));
        assert!(!bundle.matches(&Method::GET, "/chat/socket.io.js", handles));
        assert!(!bundle.matches(&Method::GET, "/socket.io/socket.io.js", handles));
        let everything = |_: &str| true;
        assert!(bundle.matches(&Method::GET, "/socket.io.js", everything));
        assert_eq!(parent_dir("/a/b/"), Some("/a/"));
        assert_eq!(parent_dir("/"), None);
    }

    #[test]
    fn content_type_follows_the_extension() {
        for (name, expected) in [
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTM", "text/html; charset=utf-8"),
            ("chat.css", "text/css; charset=utf-8"),
            ("socket.io.min.js", "application/javascript; charset=utf-8"),
            (
                "socket.io.esm.min.js.map",
                "application/json; charset=utf-8",
            ),
            ("data.json", "application/json; charset=utf-8"),
            ("module.mjs", "application/javascript; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("archive.tar.gz", "application/octet-stream"),
            ("no-extension", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), expected, "{name}");
        }
        let page = ClientBundle::from_bytes("index.html", "<p>").at("/");
        let response = page.respond(&get("/index.html", None), |_: &str| false);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }

    #[test]
    fn index_answers_the_mount_directory_only_when_mounted() {
        let page = ClientBundle::from_bytes("index.html", "<p>")
            .with_file("chat.css", "p{}")
            .at("/")
            .index("index.html");
        let never = |_: &str| false;
        let response = page.respond(&get("/", None), never);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(page.matches(&Method::HEAD, "/", never));
        assert!(!page.matches(&Method::GET, "/other/", never));
        assert!(
            !ClientBundle::from_bytes("index.html", "<p>")
                .at("/")
                .matches(&Method::GET, "/", never)
        );
        // At the Socket.IO path, the directory itself is the Engine.IO endpoint, never a file.
        let unmounted = ClientBundle::from_bytes("index.html", "<p>").index("index.html");
        let handles = |path: &str| path.starts_with("/socket.io/");
        assert!(!unmounted.matches(&Method::GET, "/socket.io/", handles));
        assert!(unmounted.matches(&Method::GET, "/socket.io/index.html", handles));
    }

    #[test]
    fn merged_bundles_answer_at_their_own_mounts() {
        let page = ClientBundle::from_bytes("index.html", "<p>")
            .with_file("chat.js", "go()")
            .at("/")
            .index("index.html");
        let extra = ClientBundle::from_bytes("logo.svg", "<svg/>").at("/img");
        let files = ClientBundle::from_bytes("socket.io.min.js", "client").merge(page.merge(extra));
        let handles = |path: &str| path.starts_with("/socket.io/");
        for (path, body) in [
            ("/socket.io/socket.io.min.js", "client"),
            ("/", "<p>"),
            ("/chat.js", "go()"),
            ("/img/logo.svg", "<svg/>"),
        ] {
            let response = files.respond(&get(path, None), handles);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            // The ETag is the hash of the content: the right file answered.
            let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
            assert_eq!(response.headers()[header::ETAG], etag.as_str(), "{path}");
        }
        for path in [
            "/socket.io/",
            "/socket.io/chat.js",
            "/socket.io.min.js",
            "/img/",
        ] {
            assert!(!files.matches(&Method::GET, path, handles), "{path}");
        }
        assert_eq!(
            files.names().collect::<Vec<_>>(),
            ["socket.io.min.js", "index.html", "chat.js", "logo.svg"]
        );
        // The route: the page first, the Socket.IO server for its own path.
        assert_eq!(
            super::super::route(&Method::GET, "/", Some(&files), handles),
            super::super::Route::Bundle
        );
        assert_eq!(
            super::super::route(&Method::GET, "/socket.io/", Some(&files), handles),
            super::super::Route::SocketIo
        );
    }

    #[test]
    fn static_dir_serves_its_regular_files() {
        let dir = std::env::temp_dir().join(format!("socketio-static-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("index.html"), "<p>").unwrap();
        std::fs::write(dir.join("chat.css"), "p{}").unwrap();
        std::fs::write(dir.join("sub/skipped.js"), "x").unwrap();
        let bundle = ClientBundle::from_static_dir(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let bundle = bundle.unwrap().at("/");
        assert_eq!(
            bundle.names().collect::<Vec<_>>(),
            ["chat.css", "index.html"]
        );
        let response = bundle.respond(&get("/chat.css", None), |_: &str| false);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        assert!(ClientBundle::from_static_dir(dir.join("missing")).is_err());
    }

    #[test]
    fn mount_is_normalized() {
        assert_eq!(normalize_mount("/socket.io"), "/socket.io/");
        assert_eq!(normalize_mount("socket.io/"), "/socket.io/");
        assert_eq!(normalize_mount("/"), "/");
    }
}

//! CORS headers, as the `cors` npm middleware that engine.io applies when `cors` is set.
//!
//! Every response (success or error) of a request gets the simple headers; an `OPTIONS`
//! request is a preflight answered `204` with the preflight headers and never reaches the
//! engine. An origin that is not allowed gets no `Access-Control-Allow-Origin` header, but the
//! request still proceeds (the browser is the one enforcing CORS).

use alloc::string::String;
use alloc::vec::Vec;

use super::http::{Header, RequestHead};
use crate::Str;

/// Which origins may read the responses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsOrigin {
    /// Any origin: `Access-Control-Allow-Origin: *` (`origin: "*"`).
    Any,
    /// Echo the request's `Origin` back (`origin: true`).
    Reflect,
    /// Only these origins, echoed back when the request's `Origin` is one of them.
    List(Vec<Str>),
}

/// CORS options (the subset of the `cors` package that matters to an Engine.IO server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins.
    pub origin: CorsOrigin,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// `Access-Control-Allow-Methods` of a preflight (`GET,HEAD,PUT,PATCH,POST,DELETE`).
    pub methods: Str,
    /// `Access-Control-Allow-Headers` of a preflight; `None` reflects the request's
    /// `Access-Control-Request-Headers`.
    pub allowed_headers: Option<Str>,
    /// `Access-Control-Expose-Headers` (none).
    pub exposed_headers: Option<Str>,
    /// `Access-Control-Max-Age` of a preflight, in seconds (none).
    pub max_age: Option<u64>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            origin: CorsOrigin::Any,
            credentials: false,
            methods: Str::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
            allowed_headers: None,
            exposed_headers: None,
            max_age: None,
        }
    }
}

impl Cors {
    /// CORS with the given origins and the other options at their defaults.
    pub fn new(origin: CorsOrigin) -> Self {
        Cors {
            origin,
            ..Cors::default()
        }
    }

    /// The headers for `head`: the preflight set when `preflight`, else the simple set.
    pub fn headers(&self, head: &RequestHead, preflight: bool) -> Vec<Header> {
        let mut headers = Vec::new();
        let mut vary: Vec<&'static str> = Vec::new();
        match &self.origin {
            CorsOrigin::Any => {
                headers.push(("Access-Control-Allow-Origin", Str::from_static("*")));
            }
            CorsOrigin::Reflect => {
                if let Some(origin) = &head.origin {
                    headers.push(("Access-Control-Allow-Origin", origin.clone()));
                }
                vary.push("Origin");
            }
            CorsOrigin::List(list) => {
                if let Some(origin) = &head.origin
                    && list.iter().any(|allowed| allowed == origin)
                {
                    headers.push(("Access-Control-Allow-Origin", origin.clone()));
                }
                vary.push("Origin");
            }
        }
        if self.credentials {
            headers.push(("Access-Control-Allow-Credentials", Str::from_static("true")));
        }
        if preflight {
            headers.push(("Access-Control-Allow-Methods", self.methods.clone()));
            match (&self.allowed_headers, &head.access_control_request_headers) {
                (Some(allowed), _) => {
                    headers.push(("Access-Control-Allow-Headers", allowed.clone()));
                }
                (None, requested) => {
                    vary.push("Access-Control-Request-Headers");
                    if let Some(requested) = requested
                        && !requested.is_empty()
                    {
                        headers.push(("Access-Control-Allow-Headers", requested.clone()));
                    }
                }
            }
            if let Some(max_age) = self.max_age {
                let value = String::from(itoa::Buffer::new().format(max_age));
                headers.push(("Access-Control-Max-Age", Str::from(value)));
            }
        }
        if let Some(exposed) = &self.exposed_headers {
            headers.push(("Access-Control-Expose-Headers", exposed.clone()));
        }
        if !vary.is_empty() {
            headers.push(("Vary", Str::from(vary.join(", "))));
        }
        headers
    }
}

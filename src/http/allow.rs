//! The `Allow` header of 405 answers (RFC 9110 requires it). poem knows a route's
//! methods but does not say them, so the table is built once from the OpenAPI spec plus
//! the few routes outside it.

use poem::http::Method;

pub struct AllowTable {
    /// Path segments (`None` = a path parameter) and the methods allowed there.
    routes: Vec<(Vec<Option<String>>, String)>,
}

impl AllowTable {
    /// `spec` is the OpenAPI document; its paths are relative to `prefix`.
    pub fn new(spec: &str, prefix: &str, extra: &[(&str, &[Method])]) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (path, ops) in paths {
                let methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                routes.push((segments(&format!("{prefix}{path}")), methods.join(", ")));
            }
        }
        for (path, methods) in extra {
            let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
            routes.push((segments(path), list.join(", ")));
        }
        AllowTable { routes }
    }

    pub fn allow(&self, path: &str) -> Option<&str> {
        let path = path.trim_end_matches('/');
        let want: Vec<&str> = path.split('/').collect();
        self.routes.iter().find_map(|(segs, methods)| {
            let fits = segs.len() == want.len()
                && segs
                    .iter()
                    .zip(&want)
                    .all(|(s, w)| s.as_deref().is_none_or(|s| s == *w));
            fits.then_some(methods.as_str())
        })
    }
}

fn segments(path: &str) -> Vec<Option<String>> {
    path.trim_end_matches('/')
        .split('/')
        .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_literal_and_parameter_segments() {
        let spec = r#"{"paths": {"/auth/me": {"get": {}}, "/users/{id}": {"get": {}, "put": {}}}}"#;
        let t = AllowTable::new(spec, "/api/v1", &[("/healthz", &[Method::GET])]);
        assert_eq!(t.allow("/api/v1/auth/me"), Some("GET"));
        assert_eq!(t.allow("/api/v1/users/42/"), Some("GET, PUT"));
        assert_eq!(t.allow("/healthz"), Some("GET"));
        assert_eq!(t.allow("/api/v1/users"), None);
    }
}

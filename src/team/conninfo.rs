//! The team server's address and credentials: `postgres://user@host:port/db?sslmode=…` (a URL
//! with a password is refused), libpq's environment defaults (`PGUSER`, `PGHOST`, `PGPORT`,
//! `PGDATABASE`, `PGPASSWORD`, `PGSSLMODE`) and the pgpass file (`PGPASSFILE`, else
//! `~/.pgpass`: `host:port:database:user:password` lines, `*` matches anything, `\:` and `\\`
//! escape). Passwords are read at connect time and never stored or printed.

use std::path::PathBuf;

use super::TeamError;

/// How a connection uses TLS (libpq's `sslmode`, the subset that matters here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain connection.
    Disable,
    /// TLS when the server offers it, else plain (the default). As libpq's `prefer`, the
    /// server's certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked (libpq's `require`).
    Require,
    /// TLS with the server's certificate checked: its chain against the webpki roots and the
    /// root certificates in `PGSSLROOTCERT` (else `~/.postgresql/root.crt` when it exists),
    /// and its name against the host. libpq's `verify-ca` and `verify-full` (`verify-ca`
    /// checks the host name too: stricter than libpq).
    VerifyFull,
}

/// The root certificates file for [`SslMode::VerifyFull`]: `PGSSLROOTCERT`, else
/// `~/.postgresql/root.crt` when it exists.
pub fn root_cert_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGSSLROOTCERT") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".postgresql/root.crt")).filter(|p| p.exists())
}

/// A parsed server address (no password, ever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub user: String,
    /// Host name, IP address, or a Unix-socket folder (starts with `/`).
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
}

impl ServerUrl {
    /// Parses `postgres://[user@]host[:port][/db][?sslmode=…]` (also `postgresql://`); what
    /// the URL leaves out comes from `PGUSER`/`USER`, `PGHOST`, `PGPORT`, `PGDATABASE` and
    /// `PGSSLMODE` as libpq does. A password in the URL is an error.
    pub fn parse(url: &str) -> Result<Self, TeamError> {
        Self::parse_with(url, &|k| std::env::var(k).ok())
    }

    /// [`ServerUrl::parse`] with an explicit environment (tests).
    pub fn parse_with(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, TeamError> {
        let bad = |why: &str| {
            TeamError::BadUrl(format!(
                "{why} (expected postgres://user@host:port/database)"
            ))
        };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("not a postgres:// URL"))?;
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, db) = main.split_once('/').unwrap_or((main, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if userinfo.is_some_and(|u| u.contains(':')) {
            return Err(TeamError::PasswordInUrl);
        }
        let (host, port) = split_host_port(hostport).map_err(|e| bad(&e))?;
        let mut sslmode = match env("PGSSLMODE") {
            Some(m) => parse_sslmode(&m).map_err(|e| bad(&e))?,
            None => SslMode::Prefer,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => sslmode = parse_sslmode(v).map_err(|e| bad(&e))?,
                "password" => return Err(TeamError::PasswordInUrl),
                _ => return Err(bad(&format!("unknown parameter '{k}'"))),
            }
        }
        let user = match userinfo.filter(|u| !u.is_empty()) {
            Some(u) => percent_decode(u).map_err(|e| bad(&e))?,
            None => env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".into()),
        };
        let host = match host {
            Some(h) => percent_decode(h).map_err(|e| bad(&e))?,
            None => env("PGHOST").unwrap_or_else(|| "localhost".into()),
        };
        let port = match port {
            Some(p) => p,
            None => env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
        };
        let dbname = if db.is_empty() {
            env("PGDATABASE").unwrap_or_else(|| user.clone())
        } else {
            percent_decode(db).map_err(|e| bad(&e))?
        };
        Ok(Self {
            user,
            host,
            port,
            dbname,
            sslmode,
        })
    }

    /// The URL as recorded in the catalogue and printed: never a password.
    pub fn display(&self) -> String {
        let host = if self.host.contains('/') || self.host.contains(':') {
            percent_encode(&self.host)
        } else {
            self.host.clone()
        };
        let ssl = match self.sslmode {
            SslMode::Prefer => "",
            SslMode::Disable => "?sslmode=disable",
            SslMode::Require => "?sslmode=require",
            SslMode::VerifyFull => "?sslmode=verify-full",
        };
        format!(
            "postgres://{}@{host}:{}/{}{ssl}",
            percent_encode(&self.user),
            self.port,
            percent_encode(&self.dbname)
        )
    }

    /// The password for this address: `PGPASSWORD`, else the pgpass file's first matching
    /// line, else none.
    pub fn password(&self) -> Option<String> {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            return Some(p);
        }
        let file = pgpass_file()?;
        let text = std::fs::read_to_string(file).ok()?;
        let host = if self.host.starts_with('/') {
            "localhost"
        } else {
            &self.host
        };
        pgpass_lookup(&text, host, self.port, &self.dbname, &self.user)
    }
}

fn parse_sslmode(v: &str) -> Result<SslMode, String> {
    match v {
        "disable" => Ok(SslMode::Disable),
        "allow" | "prefer" => Ok(SslMode::Prefer),
        "require" => Ok(SslMode::Require),
        "verify-ca" | "verify-full" => Ok(SslMode::VerifyFull),
        _ => Err(format!(
            "unknown sslmode '{v}' (disable, prefer, require, verify-ca, verify-full)"
        )),
    }
}

/// `host[:port]`, `[v6]:port`; either part may be absent.
fn split_host_port(s: &str) -> Result<(Option<&str>, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed '['")?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| format!("bad port '{p}'"))?),
        None => None,
    };
    Ok(((!host.is_empty()).then_some(host), port))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a %-escape is not UTF-8".to_string())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

/// `PGPASSFILE`, else `~/.pgpass`.
fn pgpass_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass"))
}

/// The password of the first pgpass line matching (host, port, database, user): fields are
/// `:`-separated, `*` matches anything, `\` escapes the next character; `#` lines are comments.
pub fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), db, user];
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|((f, star), w)| *star || f == w);
        if matches {
            return Some(fields[4].0.clone());
        }
    }
    None
}

/// The fields of one pgpass line, each with whether it is a bare `*`. The fifth field (the
/// password) keeps any further `:`s.
fn split_pgpass(line: &str) -> Vec<(String, bool)> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut escaped_any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                escaped_any = true;
            }
            ':' if fields.len() < 4 => {
                let star = cur == "*" && !escaped_any;
                fields.push((std::mem::take(&mut cur), star));
                escaped_any = false;
            }
            _ => cur.push(c),
        }
    }
    fields.push((cur, false));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "USER" => Some("me".into()),
            _ => None,
        }
    }

    #[test]
    fn urls_parse_and_print_without_password() {
        let u =
            ServerUrl::parse_with("postgres://al@db.lan:5433/team?sslmode=require", &env).unwrap();
        assert_eq!(
            (u.user.as_str(), u.host.as_str(), u.port, u.dbname.as_str()),
            ("al", "db.lan", 5433, "team")
        );
        assert_eq!(u.sslmode, SslMode::Require);
        assert_eq!(
            u.display(),
            "postgres://al@db.lan:5433/team?sslmode=require"
        );
        let d = ServerUrl::parse_with("postgresql://%2Ftmp%2Fpg:6000/x", &env).unwrap();
        assert_eq!((d.user.as_str(), d.host.as_str()), ("me", "/tmp/pg"));
        assert_eq!(d.display(), "postgres://me@%2Ftmp%2Fpg:6000/x");
        assert_eq!(ServerUrl::parse_with(&d.display(), &env).unwrap(), d);
        let v6 = ServerUrl::parse_with("postgres://a@[::1]:7/b", &env).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 7));
    }

    #[test]
    fn a_password_on_the_command_line_is_refused() {
        for url in [
            "postgres://al:secret@db/team",
            "postgres://al@db/team?password=secret",
        ] {
            let e = ServerUrl::parse_with(url, &env).unwrap_err();
            assert!(matches!(e, TeamError::PasswordInUrl), "{url}: {e}");
            assert!(!e.to_string().contains("secret"));
        }
        assert!(ServerUrl::parse_with("http://db/team", &env).is_err());
        assert!(ServerUrl::parse_with("postgres://db:notaport/team", &env).is_err());
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    other:5432:*:al:wrong\n\
                    db\\:1:*:team:al:pa\\:ss:word\n\
                    *:5432:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "db:1", 9, "team", "al").as_deref(),
            Some("pa:ss:word")
        );
        assert_eq!(
            pgpass_lookup(text, "x", 5432, "y", "z").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup(text, "x", 1, "y", "z"), None);
        assert_eq!(
            pgpass_lookup(text, "other", 5432, "d", "al").as_deref(),
            Some("wrong")
        );
    }
}

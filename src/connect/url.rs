//! Takes libpq's TLS parameters out of a connection string, in both of tokio-postgres's forms
//! (`postgres://…?sslmode=verify-full&…` and `host=… sslmode=verify-full`), and hands back the
//! rest for tokio-postgres to parse: it knows `sslmode` only as `disable`/`prefer`/`require` and
//! `sslrootcert`, `sslcert`, `sslkey` not at all, and refuses the whole string for any of them.
//! What the values mean is decided in `tls.rs`.

/// libpq's TLS parameters as written, and the connection string without them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsParameters {
    pub(crate) sslmode: Option<String>,
    pub(crate) sslrootcert: Option<String>,
    pub(crate) sslcert: Option<String>,
    pub(crate) sslkey: Option<String>,
    /// The connection string for tokio-postgres.
    pub(crate) rest: String,
}

impl TlsParameters {
    fn take(&mut self, key: &str, value: String) -> bool {
        let slot = match key {
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            _ => return false,
        };
        // As libpq: the last occurrence wins.
        *slot = Some(value);
        true
    }
}

/// Splits `url` into the TLS parameters and the rest. Malformed strings are passed on as they
/// are, for tokio-postgres to report.
pub(crate) fn split_tls_parameters(url: &str) -> TlsParameters {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if is_url {
        split_url(url)
    } else {
        split_key_value(url)
    }
}

fn split_url(url: &str) -> TlsParameters {
    let mut parameters = TlsParameters::default();
    let Some((base, query)) = url.split_once('?') else {
        parameters.rest = url.to_owned();
        return parameters;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            !parameters.take(&percent_decode(key), percent_decode(value))
        })
        .collect();
    parameters.rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    parameters
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `key = value` pairs separated by whitespace; a value is quoted with `'` or not, and `\`
/// escapes the next character in both (tokio-postgres's and libpq's grammar). The kept pairs
/// are written back with quoted values, which tokio-postgres reads as they were.
fn split_key_value(text: &str) -> TlsParameters {
    let mut parameters = TlsParameters::default();
    let mut kept = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            // Not a pair: leave the whole string to tokio-postgres, which says what is wrong.
            return TlsParameters {
                rest: text.to_owned(),
                ..TlsParameters::default()
            };
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if_eq(&'\'').is_some();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '\'' if quoted => break,
                c if !quoted && c.is_whitespace() => break,
                c => value.push(c),
            }
        }
        if !parameters.take(&key, value.clone()) {
            let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{escaped}'"));
        }
    }
    parameters.rest = kept.join(" ");
    parameters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_are_taken_out_and_the_rest_kept_verbatim() {
        let split = split_tls_parameters(
            "postgres://u:p%40ss@db.example:5432/app?sslmode=verify-full&application_name=a%20b\
             &sslrootcert=%2Fetc%2Fca%20bundle.pem&sslcert=c.pem&sslkey=k.pem&connect_timeout=3",
        );
        assert_eq!(split.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(split.sslrootcert.as_deref(), Some("/etc/ca bundle.pem"));
        assert_eq!(split.sslcert.as_deref(), Some("c.pem"));
        assert_eq!(split.sslkey.as_deref(), Some("k.pem"));
        assert_eq!(
            split.rest,
            "postgres://u:p%40ss@db.example:5432/app?application_name=a%20b&connect_timeout=3"
        );
        split
            .rest
            .parse::<tokio_postgres::Config>()
            .expect("parses");
    }

    #[test]
    fn a_url_left_without_parameters_loses_its_question_mark() {
        let split = split_tls_parameters("postgresql://h/db?sslmode=require");
        assert_eq!(split.sslmode.as_deref(), Some("require"));
        assert_eq!(split.rest, "postgresql://h/db");
        let plain = split_tls_parameters("postgres://h/db");
        assert_eq!(plain.rest, "postgres://h/db");
        assert_eq!(plain.sslmode, None);
    }

    #[test]
    fn key_value_parameters_are_taken_out_and_the_rest_parses_the_same() {
        let text = "host=h port = 5433 password='it\\'s \\\\ x' sslmode=verify-ca \
                    sslrootcert='/tmp/my ca.pem' dbname=app";
        let split = split_tls_parameters(text);
        assert_eq!(split.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(split.sslrootcert.as_deref(), Some("/tmp/my ca.pem"));
        let config: tokio_postgres::Config = split.rest.parse().expect("parses");
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_dbname(), Some("app"));
        let original: tokio_postgres::Config = "host=h port=5433 password='it\\'s \\\\ x'"
            .parse()
            .expect("parses");
        assert_eq!(config.get_password(), original.get_password());
    }

    #[test]
    fn the_last_occurrence_wins_as_in_libpq() {
        let split = split_tls_parameters("postgres://h/d?sslmode=disable&sslmode=verify-full");
        assert_eq!(split.sslmode.as_deref(), Some("verify-full"));
    }
}

//! The server named by `DATABASE_URL`.

use super::*;

/// The server named by `DATABASE_URL`, split so that the database can be swapped.
#[derive(Debug)]
pub(super) struct ExternalServer {
    pub(super) url: String,
    /// `scheme://userinfo@host:port`, without the path.
    pub(super) base: String,
    /// `?...` or empty.
    pub(super) query: String,
    /// `host:port`, without credentials, for messages.
    pub(super) address: String,
    pub(super) port: u16,
}

impl ExternalServer {
    pub(super) fn parse(url: &str) -> Result<ExternalServer, TestkitError> {
        let invalid = |reason| TestkitError::InvalidDatabaseUrl { reason };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or(invalid(
                "it does not start with postgres:// or postgresql://",
            ))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let base = url[..url.len() - rest.len() + authority_end].to_owned();
        let after = &rest[authority_end..];
        let query = after.find('?').map_or("", |i| &after[i..]).to_owned();
        let hosts = rest[..authority_end]
            .rsplit_once('@')
            .map_or(&rest[..authority_end], |(_, hosts)| hosts);
        // With several hosts (`h1:5432,h2:5433`) the first is the one tests talk to.
        let host_port = hosts.split(',').next().unwrap_or_default();
        let (host, port) = match host_port.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or(invalid("an IPv6 host lacks its closing ']'"))?;
                (host, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        let port = match port {
            None | Some("") => 5432,
            Some(port) => port
                .parse()
                .map_err(|_| invalid("the port is not a number"))?,
        };
        let host = if host.is_empty() { "localhost" } else { host };
        Ok(ExternalServer {
            url: url.to_owned(),
            base,
            query,
            address: format!("{host}:{port}"),
            port,
        })
    }

    pub(super) fn url_for(&self, database: &str) -> String {
        format!("{}/{}{}", self.base, percent_encode(database), self.query)
    }
}

//! TLS-only servers ([`ClusterOptions::tls_only`]): a throwaway CA, a server certificate, a
//! client certificate and an unrelated second CA, made with the `openssl` command; `ssl = on`
//! and a `pg_hba.conf` without plain `host` lines, so a TCP connection without TLS is refused.
//! The kit's own connections go over the Unix socket, which `local` lines still let in.

use super::*;

/// The DNS name in the server certificate (beside the IP address `127.0.0.1`): connect to it
/// with `hostaddr=127.0.0.1`, since nothing resolves it.
pub const SERVER_HOST_NAME: &str = "pgrepo-tls.test";
/// The role whose connections must present the client certificate (`cert` authentication:
/// the certificate's CN is this name). Tests create the role themselves.
pub const CLIENT_CERT_USER: &str = "pgrepo_client_cert";

/// The certificates of a TLS-only cluster ([`TestCluster::tls`]), PEM files in its directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    dir: PathBuf,
}

impl TlsFiles {
    /// The CA that signed the server's and the client's certificates: `sslrootcert`.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// A CA unrelated to the server: a wrong `sslrootcert`.
    pub fn other_ca_cert(&self) -> PathBuf {
        self.dir.join("other-ca.crt")
    }

    /// A client certificate for [`CLIENT_CERT_USER`], signed by [`TlsFiles::ca_cert`].
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// The key of [`TlsFiles::client_cert`] (PKCS#8).
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// The server certificate's names: [`SERVER_HOST_NAME`] and the IP address `127.0.0.1`
    /// (not `localhost`).
    pub fn server_names(&self) -> [&'static str; 2] {
        [SERVER_HOST_NAME, "127.0.0.1"]
    }
}

impl TestCluster {
    /// The certificates of a cluster started [`tls_only`](ClusterOptions::tls_only).
    pub fn tls(&self) -> Option<&TlsFiles> {
        match &self.server {
            Server::Local(local) => local.tls.as_ref(),
            Server::External(_) => None,
        }
    }

    /// What the kit itself connects to `database` with (the Unix socket on a TLS-only server).
    pub(super) fn admin_url_for(&self, database: &str) -> String {
        match &self.server {
            Server::Local(local) => local.admin_url_for(database),
            Server::External(_) => self.url_for(database),
        }
    }
}

impl LocalServer {
    /// Makes the certificates, installs the server's in its data directory and switches the
    /// server to TLS-only. Before the server starts.
    pub(super) fn make_tls_only(&self) -> Result<TlsFiles, TestkitError> {
        let files = TlsFiles {
            dir: self.workdir.path().join("tls"),
        };
        let dir = &files.dir;
        std::fs::create_dir_all(dir).map_err(io_error("creating the certificates' directory"))?;
        let data_dir = &self.primary.data_dir;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, subject) in [
            ("ca", "/CN=pgrepo test CA"),
            ("other-ca", "/CN=pgrepo other CA"),
        ] {
            self.openssl(
                dir,
                &["req", "-x509", "-days", "3"]
                    .iter()
                    .chain(&ec)
                    .chain(&[
                        "-keyout",
                        &format!("{name}.key"),
                        "-out",
                        &format!("{name}.crt"),
                    ])
                    .chain(&["-subj", subject])
                    .chain(&["-addext", "basicConstraints=critical,CA:TRUE"])
                    .chain(&["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                    .copied()
                    .collect::<Vec<_>>(),
            )?;
        }
        let server_ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{SERVER_HOST_NAME},IP:127.0.0.1\n"
        );
        let client_ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                          extendedKeyUsage=clientAuth\n";
        let client_subject = format!("/CN={CLIENT_CERT_USER}");
        for (name, subject, ext) in [
            ("server", "/CN=pgrepo-tls.test", server_ext.as_str()),
            ("client", client_subject.as_str(), client_ext),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext)
                .map_err(io_error("writing a certificate's extensions"))?;
            let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
            self.openssl(
                dir,
                &["req"]
                    .iter()
                    .chain(&ec)
                    .chain(&["-keyout", &key, "-out", &csr, "-subj", subject])
                    .copied()
                    .collect::<Vec<_>>(),
            )?;
            self.openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "3",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.crt"),
                ],
            )?;
        }
        // The server reads its files from its data directory, as the server user; PostgreSQL
        // refuses a key that others may read.
        for name in ["server.crt", "server.key", "ca.crt"] {
            let target = data_dir.join(name);
            std::fs::copy(dir.join(name), &target)
                .map_err(io_error(format!("copying {name} to the data directory")))?;
            set_mode(&target, 0o600)?;
            self.tools.give_to_server_user(&target)?;
        }
        set_mode(&files.client_key(), 0o600)?;
        append(
            &data_dir.join("postgresql.conf"),
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'ca.crt'\n",
        )?;
        let hba = format!(
            "# Written by pgrepo::testkit: TLS only over TCP (no plain `host` lines).\n\
             local all all trust\n\
             hostssl all {CLIENT_CERT_USER} 127.0.0.1/32 cert\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl replication all 127.0.0.1/32 trust\n"
        );
        std::fs::write(data_dir.join("pg_hba.conf"), hba)
            .map_err(io_error("writing pg_hba.conf"))?;
        Ok(files)
    }

    fn openssl(&self, dir: &Path, args: &[&str]) -> Result<Output, TestkitError> {
        let mut openssl = Command::new("openssl");
        openssl.args(args).current_dir(dir);
        let description = format!("{openssl:?}");
        let output = openssl
            .stdin(Stdio::null())
            .output()
            .map_err(io_error(format!(
                "running {description} (is openssl installed?)"
            )))?;
        if output.status.success() {
            return Ok(output);
        }
        Err(TestkitError::CommandFailed {
            command: description,
            status: output.status.to_string(),
            output: tail(&String::from_utf8_lossy(&output.stderr)),
        })
    }

    /// A connection string over the Unix socket: the way in that `hostssl` lines leave open.
    pub(super) fn socket_url_for(&self, database: &str) -> String {
        let quote = |text: &str| text.replace('\\', "\\\\").replace('\'', "\\'");
        format!(
            "host='{}' port={} user={SUPERUSER} dbname='{}'",
            quote(&self.workdir.path().to_string_lossy()),
            self.primary.port,
            quote(database)
        )
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), TestkitError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_error(format!("chmod {mode:o} {}", path.display())))
}

//! HTTPS without a proxy: the certificate chain and private key of
//! `--tls-cert`/`--tls-key` (PEM) into a rustls server configuration, with
//! the ring crypto provider (aws-lc-rs would need cmake and a long C build).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Reads both files and checks that the key is the certificate's. Errors
/// name the file and the problem, never its contents.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = read_certificates(cert)?;
    let key = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol version fits the ring provider")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "the TLS key does not fit the certificate {}",
                cert.display()
            )
        })?;
    Ok(config)
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    readable(path, "certificate")?;
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate file ({e})", path.display()))?;
    if chain.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(chain)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    readable(path, "key")?;
    // The parser's error may quote what it read: only its kind is shown.
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key in it".to_string(),
            rustls::pki_types::pem::Error::Io(io) => io.to_string(),
            _ => "not a PEM private key file".to_string(),
        };
        anyhow::anyhow!("{}: {why}", path.display())
    })
}

/// A clear error for a file that is missing or unreadable, before parsing.
fn readable(path: &Path, what: &str) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .map(drop)
        .with_context(|| format!("cannot read the TLS {what} {}", path.display()))
}

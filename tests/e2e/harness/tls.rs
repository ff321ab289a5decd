//! Test certificates, made with `openssl` when a test runs (nothing secret is kept in the
//! repository): a certificate authority, and a server certificate for `localhost` and
//! `127.0.0.1` signed by it. Two calls give two unrelated authorities.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run_checked;

/// A test CA and a server certificate it signed, as PEM files.
pub struct TestPki {
    /// The CA's certificate: what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate.
    pub certificate: PathBuf,
    /// The server's private key (PKCS#8).
    pub key: PathBuf,
}

/// Issues a CA named `name` and a server certificate signed by it, under `dir/name/`.
pub fn issue(dir: &Path, name: &str) -> Result<TestPki, String> {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = |file: &str| dir.join(file);
    let ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run_checked(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec_key)
            .arg("-keyout")
            .arg(path("ca.key"))
            .arg("-out")
            .arg(path("ca.crt"))
            .args(["-days", "2", "-subj", &format!("/CN={name} test CA")])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
    )?;
    run_checked(
        Command::new("openssl")
            .arg("req")
            .args(ec_key)
            .arg("-keyout")
            .arg(path("server.key"))
            .arg("-out")
            .arg(path("server.csr"))
            .args(["-subj", "/CN=localhost"]),
    )?;
    // rustls (webpki) wants the names in subjectAltName and an end-entity, server-auth certificate.
    std::fs::write(
        path("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| e.to_string())?;
    run_checked(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-set_serial", "1"])
            .arg("-in")
            .arg(path("server.csr"))
            .arg("-CA")
            .arg(path("ca.crt"))
            .arg("-CAkey")
            .arg(path("ca.key"))
            .arg("-extfile")
            .arg(path("server.ext"))
            .arg("-out")
            .arg(path("server.crt")),
    )?;
    // A container user other than the file's owner reads the CA (mounted read-only).
    set_readable(&path("ca.crt"))?;
    Ok(TestPki {
        ca: path("ca.crt"),
        certificate: path("server.crt"),
        key: path("server.key"),
    })
}

/// Mode 0644.
pub fn set_readable(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", file.display()))
}

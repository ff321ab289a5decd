//! `--state-file`: the service state (graphs, members, delegations, clock offset) and the world
//! model, as JSON, rewritten after every change so a demo survives a restart — even a `kill -9`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::ServiceState;
use super::world::WorldConfig;

const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateFile {
    version: u32,
    pub world: WorldConfig,
    pub state: ServiceState,
}

/// Reads the state file; `Ok(None)` when it does not exist yet.
pub(crate) fn load(path: &Path) -> std::io::Result<Option<StateFile>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let file: StateFile = serde_json::from_slice(&bytes).map_err(|err| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: not an emulator state file: {err}", path.display()),
        )
    })?;
    if file.version != FORMAT_VERSION {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: state file version {} (this emulator reads version {FORMAT_VERSION})",
                path.display(),
                file.version
            ),
        ));
    }
    Ok(Some(file))
}

/// Writes to a sibling temporary file and renames it over the target, so a crash mid-write
/// leaves the previous state intact rather than a truncated file.
pub(crate) fn save(path: &Path, world: &WorldConfig, state: &ServiceState) -> std::io::Result<()> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct View<'a> {
        version: u32,
        world: &'a WorldConfig,
        state: &'a ServiceState,
    }
    let bytes = serde_json::to_vec(&View {
        version: FORMAT_VERSION,
        world,
        state,
    })?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    {
        let mut file = std::fs::File::create(&temporary)?;
        // No fsync: the file must survive the emulator being killed, not the machine losing
        // power, and benchmarks write it after every call.
        file.write_all(&bytes)?;
    }
    std::fs::rename(&temporary, path)
}

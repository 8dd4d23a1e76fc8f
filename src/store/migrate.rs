//! `meta.schema_version` and the migrations that bring an older database up to date.
//! Each migration runs once, in order, at start-up, before the server accepts requests.

use super::{Result, StoreError, Trees};

/// The schema this binary writes.
pub const CURRENT: u32 = 1;
const KEY: &[u8] = b"schema_version";

type Migration = fn(&sled::Db, &Trees) -> Result<()>;

/// `MIGRATIONS[n]` takes a database from version n to n + 1. Version 0 is an empty
/// database, so the first step only records the version.
const MIGRATIONS: [Migration; CURRENT as usize] = [|_, _| Ok(())];

pub fn version(meta: &sled::Tree) -> Result<u32> {
    match meta.get(KEY)? {
        None => Ok(0),
        Some(v) => Ok(u32::from_be_bytes(v.as_ref().try_into().map_err(|_| {
            StoreError::Corrupt {
                tree: "meta",
                msg: "schema_version is not 4 bytes".into(),
            }
        })?)),
    }
}

pub fn run(db: &sled::Db, t: &Trees) -> Result<()> {
    let mut v = version(&t.meta)?;
    if v > CURRENT {
        return Err(StoreError::Io(format!(
            "the database has schema version {v}, newer than this binary's {CURRENT}; \
             run a newer Vextra"
        )));
    }
    while v < CURRENT {
        MIGRATIONS[v as usize](db, t)?;
        v += 1;
        t.meta.insert(KEY, &v.to_be_bytes())?;
        tracing::info!(schema_version = v, "store migrated");
    }
    db.flush()?;
    Ok(())
}

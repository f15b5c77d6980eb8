//! A real node process for the read-side benchmarks: `tradechain node run` (this same binary) as
//! an observer over a bench chain's store, on free local ports, killed when dropped.
//!
//! Invariant: the child never outlives the benchmark (`Drop` kills and reaps it).
use super::synthetic::Built;
use crate::client;
use crate::exit::{CliError, CliResult};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tradechain_proto::v1;

pub struct NodeProc {
    child: Child,
    pub grpc: String,
    /// `/ip4/127.0.0.1/tcp/{port}/p2p/{peer id}`: what another node bootstraps from.
    pub p2p_addr: String,
    pub log: PathBuf,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> CliResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| CliError::failure(format!("no free port: {e}")))
}

fn abs(p: PathBuf) -> CliResult<PathBuf> {
    std::path::absolute(&p).map_err(|e| CliError::failure(format!("{}: {e}", p.display())))
}

/// Start observer `name` (its node key is `keys/{name}.node`, its data `{name}/data`).
pub fn start(built: &Built, name: &str, bootstrap: &[String]) -> CliResult<NodeProc> {
    let (grpc, p2p) = (free_port()?, free_port()?);
    let dir = abs(built.dir.join(name))?;
    std::fs::create_dir_all(&dir).map_err(|e| CliError::failure(format!("{}: {e}", dir.display())))?;
    let node_key = abs(built.node_key(name))?;
    let key = tradechain_ledger::SecretKey::read_file(&node_key).map_err(|e| CliError::failure(e.to_string()))?;
    let peer = tradechain_node::peer_id_string(&key.public().0)
        .ok_or_else(|| CliError::failure("bench: node key has no peer id"))?;
    let boot: Vec<String> = bootstrap.iter().map(|b| format!("{b:?}")).collect();
    let toml = format!(
        "[node]\nname = {name:?}\nrole = \"observer\"\ndata_dir = {:?}\ngenesis = {:?}\nnode_key = {:?}\n\n\
         [p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{p2p}\"]\nbootstrap = [{}]\n\n\
         [grpc]\nlisten = \"127.0.0.1:{grpc}\"\n\n[log]\nformat = \"human\"\nlevel = \"warn\"\n",
        abs(built.data_dir(name))?.display().to_string(),
        abs(built.genesis_path())?.display().to_string(),
        node_key.display().to_string(),
        boot.join(", ")
    );
    let config = dir.join("node.toml");
    std::fs::write(&config, toml).map_err(|e| CliError::failure(format!("{}: {e}", config.display())))?;
    let log = dir.join("node.log");
    let file = std::fs::File::create(&log).map_err(|e| CliError::failure(format!("{}: {e}", log.display())))?;
    let err = file.try_clone().map_err(|e| CliError::failure(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| CliError::failure(format!("this binary: {e}")))?;
    let child = Command::new(exe)
        .args(["node", "run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| CliError::failure(format!("starting node {name}: {e}")))?;
    Ok(NodeProc {
        child,
        grpc: format!("http://127.0.0.1:{grpc}"),
        p2p_addr: format!("/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer}"),
        log,
    })
}

impl NodeProc {
    /// Wait until the node answers `GetStatus`; returns a channel to it.
    pub async fn ready(&mut self, timeout: Duration) -> CliResult<Channel> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CliError::failure(format!(
                    "bench node exited ({status}); see {}",
                    self.log.display()
                )));
            }
            if let Ok(ch) = client::connect(&self.grpc).await
                && v1::node_service_client::NodeServiceClient::new(ch.clone())
                    .get_status(v1::GetStatusRequest {})
                    .await
                    .is_ok()
            {
                return Ok(ch);
            }
            if Instant::now() > deadline {
                return Err(CliError::failure(format!(
                    "bench node did not answer within {} s; see {}",
                    timeout.as_secs(),
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

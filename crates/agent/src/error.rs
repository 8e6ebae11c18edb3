//! What can go wrong on a host, as one enum. The wire carries the text (`Display`) — its
//! wording is what the server and the API show, and `VmNotHere` keeps `proto::vm_not_here`'s
//! wording, which the server recognises — while the agent's own logs and metrics see the kind.

/// An error carrying out a command on this host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A command named a VM this host does not run.
    #[error("{}", proto::vm_not_here(.0))]
    VmNotHere(String),
    /// A tool (`ip`, `nft`, `qemu-img`, `dnsmasq`, QEMU…) could not run or exited non-zero;
    /// `message` names it and carries its standard error (or why it could not start).
    #[error("{message}")]
    Tool { program: String, message: String },
    /// A file or socket operation failed; `what` says on what.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The QEMU monitor refused a command or broke off.
    #[error("{0}")]
    Qmp(String),
    /// This host will not do it (unsupported command, a request it cannot satisfy).
    #[error("{0}")]
    Refused(String),
    /// The answer is unknown (a probe could not run, an operation did not finish in time).
    #[error("{0}")]
    Undetermined(String),
    /// Anything else, with its text.
    #[error("{0}")]
    Failed(String),
}

impl HostError {
    /// The kind as a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::VmNotHere(_) => "vm_not_here",
            Self::Tool { .. } => "tool",
            Self::Io { .. } => "io",
            Self::Qmp(_) => "qmp",
            Self::Refused(_) => "refused",
            Self::Undetermined(_) => "undetermined",
            Self::Failed(_) => "failed",
        }
    }

    /// `what: e` for an IO error.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// Equal when of one kind with one text (IO errors do not compare otherwise).
impl PartialEq for HostError {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.to_string() == other.to_string()
    }
}

/// Text errors from helpers that build their own message.
impl From<String> for HostError {
    fn from(s: String) -> Self {
        Self::Failed(s)
    }
}

impl From<&str> for HostError {
    fn from(s: &str) -> Self {
        Self::Failed(s.to_string())
    }
}

impl From<tokio::task::JoinError> for HostError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Failed(format!("a blocking task did not finish: {e}"))
    }
}

pub type HostResult<T> = Result<T, HostError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_is_what_the_server_recognises() {
        let e = HostError::VmNotHere("i-2-3-VM".into());
        assert_eq!(proto::vm_not_here_name(&e.to_string()), Some("i-2-3-VM"));
        assert_eq!(e.kind(), "vm_not_here");
        let t = HostError::Tool {
            program: "nft".into(),
            message: "nft -f -: syntax error".into(),
        };
        assert_eq!(t.to_string(), "nft -f -: syntax error");
        assert_eq!(t.kind(), "tool");
        let io = HostError::io("reading spec.json")(std::io::Error::other("boom"));
        assert_eq!(io.to_string(), "reading spec.json: boom");
    }
}

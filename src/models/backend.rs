//! Backend selection: wgpu when an adapter exists (Vulkan/Metal/DX12; Mesa lavapipe on GPU-less
//! Linux), otherwise burn's pure-Rust `flex` CPU backend. A missing adapter never panics:
//! `Device::wgpu_options().init()` returns a `Result` and we fall back.
//!
//! # Selection
//!
//! `models/backend.rs`: `--backend auto` uses wgpu only for a hardware adapter (found by listing
//! Vulkan/Metal/DX12 adapters without creating a device; on Linux only when a DRM render node or an
//! NVIDIA device node exists) (lavapipe is 10–100× slower than the CPU paths, see
//! `../shared/docs/stack.md`); `wgpu` uses any adapter and fails with a message when there is none;
//! `cpu` is plain Rust for classical signals and burn `flex` for neural models; `flex` forces the
//! tensor path on the CPU. wgpu is probed with `Device::wgpu_options().init_with_setup()`, which
//! returns a `Result`, so a missing adapter never panics.

use burn::tensor::Device;

/// What the user asked for with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A real GPU through wgpu when one exists; otherwise the CPU.
    #[default]
    Auto,
    /// wgpu on whatever adapter exists (including lavapipe, a software Vulkan); fails without one.
    Wgpu,
    /// The CPU: plain Rust kernels for classical signals, burn `flex` for neural models.
    Cpu,
    /// burn's `flex` CPU backend for every tensor path (slower than `cpu` for classical signals;
    /// useful to check the tensor code without a GPU).
    Flex,
}

/// The kind of device selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// burn `flex` on the CPU.
    Flex,
    /// wgpu; `software` is true for CPU adapters such as lavapipe/llvmpipe.
    Wgpu { adapter: String, software: bool },
}

/// The selected burn device and a description for logs.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    pub kind: DeviceKind,
    /// Whether classical signals should use the tensor path (true) or the plain-Rust path.
    pub tensor_signals: bool,
}

impl Selected {
    /// One line for logs: which backend and adapter.
    pub fn describe(&self) -> String {
        match &self.kind {
            DeviceKind::Flex => "burn flex (CPU)".to_string(),
            DeviceKind::Wgpu { adapter, software } => format!(
                "burn wgpu on {adapter}{}",
                if *software { " (software adapter)" } else { "" }
            ),
        }
    }
}

/// Errors of backend selection.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "no wgpu adapter is available ({0}); use --backend cpu, or install a Vulkan driver (e.g. mesa-vulkan-drivers)"
    )]
    NoAdapter(String),
}

/// Tries to initialise wgpu; returns the device and adapter description.
fn try_wgpu() -> Result<(Device, String, bool), String> {
    // Initialisation may already have happened in this process (tests, GUI): a second init of
    // the same runtime is an error, so remember the first result.
    static CACHE: std::sync::OnceLock<Result<(Device, String, bool), String>> =
        std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            let (device, setup) = Device::wgpu_options()
                .init_with_setup()
                .map_err(|e| e.to_string())?;
            let info = setup.adapter.get_info();
            let software = matches!(info.device_type, burn::tensor::wgpu::wgpu::DeviceType::Cpu);
            let desc = format!("{} ({:?}, {:?})", info.name, info.device_type, info.backend);
            Ok((device, desc, software))
        })
        .clone()
}

/// Polls a future that is ready at once (wgpu's native adapter enumeration) without an
/// async runtime.
fn ready_now<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1000 {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        std::thread::yield_now();
    }
    None
}

/// The first hardware (non-CPU) adapter's description, without creating a device: `auto`
/// must not pay for (or log from) a software adapter it will not use.
pub fn hardware_adapter() -> Option<String> {
    use burn::tensor::wgpu::wgpu;
    // On Linux a GPU shows up as a DRM render node or an NVIDIA device node; without one, skip
    // the probe (it only finds lavapipe, and Mesa logs to stderr while probing).
    #[cfg(target_os = "linux")]
    {
        let has_node = |dir: &str, prefix: &str| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
            })
        };
        if !has_node("/dev/dri", "renderD") && !has_node("/dev", "nvidia") {
            return None;
        }
    }
    let instance = wgpu::Instance::default();
    // Vulkan, Metal, DX12: probing GL would open an EGL display just to list llvmpipe.
    let adapters = ready_now(instance.enumerate_adapters(wgpu::Backends::PRIMARY))?;
    adapters
        .iter()
        .map(wgpu::Adapter::get_info)
        .find_map(|info| {
            (info.device_type != wgpu::DeviceType::Cpu)
                .then(|| format!("{} ({:?})", info.name, info.backend))
        })
}

/// Selects a device for `choice`. `Auto` uses wgpu only for a hardware adapter: software
/// adapters are 10–100× slower than the CPU paths (measured in `../shared/docs/stack.md`).
pub fn select(choice: BackendChoice) -> Result<Selected, BackendError> {
    let flex = || Selected {
        device: Device::flex(),
        kind: DeviceKind::Flex,
        tensor_signals: false,
    };
    match choice {
        BackendChoice::Cpu => Ok(flex()),
        BackendChoice::Flex => Ok(Selected {
            tensor_signals: true,
            ..flex()
        }),
        BackendChoice::Wgpu => {
            let (device, adapter, software) = try_wgpu().map_err(BackendError::NoAdapter)?;
            Ok(Selected {
                device,
                kind: DeviceKind::Wgpu { adapter, software },
                tensor_signals: true,
            })
        }
        BackendChoice::Auto if hardware_adapter().is_none() => Ok(flex()),
        BackendChoice::Auto => match try_wgpu() {
            Ok((device, adapter, false)) => Ok(Selected {
                device,
                kind: DeviceKind::Wgpu {
                    adapter,
                    software: false,
                },
                tensor_signals: true,
            }),
            _ => Ok(flex()),
        },
    }
}

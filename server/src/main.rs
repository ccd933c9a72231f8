//! `meeboter`: one binary for the web app, the APIs, the workers and operations.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leptos::prelude::get_configuration;
use server::commands::{self, CommandError};

#[derive(Parser)]
#[command(name = "meeboter", version, about = "Meeboter: meeting bots on your own infrastructure")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app, the JSON and bot APIs, and run the workers.
    Serve {
        /// Address to listen on (default: LEPTOS_SITE_ADDR, or site-addr in Cargo.toml).
        #[arg(long, env = "MEEBOTER_ADDR")]
        addr: Option<SocketAddr>,
        /// Apply pending migrations before serving (otherwise serving refuses a stale schema).
        #[arg(long)]
        migrate: bool,
    },
    /// Run only the background workers (for separate worker replicas).
    Worker,
    /// Apply pending database migrations.
    Migrate {
        /// Only list pending migrations; exit 1 if any.
        #[arg(long, conflicts_with = "redo_all")]
        status: bool,
        /// Revert every migration and apply them again (checks down.sql; destroys data).
        #[arg(long)]
        redo_all: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Be a simulated bot: follow the bot contract against MILO_URL like a real bot container
    /// (needs only BOT_ID or POOL_SLOT_UUID, MILO_URL and MILO_AUTH_TOKEN). With
    /// `--fleet N --listen ADDR`: be the fleet host that runs up to N of them for simulated
    /// platforms (docs/SIMULATION.md).
    BotSim(Box<server::bot_sim::SimArgs>),
    /// Write brotli and gzip copies (`<file>.br`, `<file>.gz`) of the site's static files, served
    /// to browsers that accept them; run after `cargo leptos build` (`./dev` does).
    Precompress {
        /// The site to compress (default: LEPTOS_SITE_ROOT, else target/site).
        #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
        site_root: std::path::PathBuf,
        /// Quicker, larger copies (brotli 4, gzip 1) for the big debug bundle; default brotli 11,
        /// gzip 9.
        #[arg(long)]
        fast: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the environment and print the resolved configuration, secrets redacted.
    Check,
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    // Each command reads only the configuration it uses: bot-sim its own flags, migrate the
    // database URL, the others everything.
    let command = match cli.command {
        Command::BotSim(args) => return bot_sim(*args),
        Command::Migrate { status, redo_all } => return migrate(status, redo_all),
        Command::Precompress { site_root, fast } => return precompress(&site_root, fast),
        other => other,
    };
    let config = match commands::load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meeboter: {e}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(config.log_format);
    block_on(run(command, config))
}

fn block_on(work: impl std::future::Future<Output = Result<ExitCode, CommandError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meeboter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "meeboter failed");
            eprintln!("meeboter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `meeboter migrate`: needs only `DATABASE_URL` (and `LOG_FORMAT`).
fn migrate(status: bool, redo_all: bool) -> ExitCode {
    let config = match commands::load_migrate_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meeboter: {e}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(config.log_format);
    block_on(async move {
        let url = &config.database_url;
        if status {
            let pending = commands::pending(url).await?;
            if pending.is_empty() {
                println!("migrations are current");
                return Ok(ExitCode::SUCCESS);
            }
            println!("{} pending: {}", pending.len(), pending.join(", "));
            return Ok(ExitCode::from(1));
        }
        if redo_all {
            commands::redo_all(url).await?;
            println!("every migration reverted and re-applied");
        } else {
            let applied = commands::migrate(url).await?;
            println!("{} migration(s) applied", applied.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `meeboter precompress`: needs none of the server's configuration.
fn precompress(site_root: &std::path::Path, fast: bool) -> ExitCode {
    let effort = if fast { server::assets::Effort::Fast } else { server::assets::Effort::Best };
    let started = std::time::Instant::now();
    match server::assets::precompress(site_root, effort) {
        Ok(done) => {
            let kb = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| format!("{:.1}", n as f64 / 1024.0));
            for f in &done {
                println!(
                    "{:>10} KB raw {:>10} KB br {:>10} KB gzip  {}",
                    kb(Some(f.raw)),
                    kb(f.br),
                    kb(f.gzip),
                    f.path.display()
                );
            }
            println!("precompressed {} file(s) in {} ms", done.len(), started.elapsed().as_millis());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meeboter precompress: {}: {e}", site_root.display());
            ExitCode::FAILURE
        }
    }
}

/// Leptos' options from the environment (cargo-leptos sets it when it runs the server), with
/// the hashed asset names of the build beside this binary.
fn leptos_options() -> Result<leptos::prelude::LeptosOptions, CommandError> {
    let mut options =
        get_configuration(None).map_err(|e| CommandError::Other(format!("leptos configuration: {e}")))?.leptos_options;
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(std::path::Path::to_path_buf)) {
        server::assets::use_hash_file(&mut options, &dir);
    }
    Ok(options)
}

/// `meeboter bot-sim`: needs none of the server's configuration.
fn bot_sim(args: server::bot_sim::SimArgs) -> ExitCode {
    server::telemetry::init(app::backend::config::LogFormat::Pretty);
    // One bot needs one thread; a fleet of thousands uses every core.
    let runtime = if args.fleet.is_some() {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meeboter bot-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let work = async move {
        if args.fleet.is_some() {
            server::bot_sim::fleet::run(args).await
        } else {
            server::bot_sim::run(args).await
        }
    };
    match runtime.block_on(work) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("meeboter bot-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: app::backend::config::Config) -> Result<ExitCode, CommandError> {
    match command {
        Command::Serve { addr, migrate } => {
            let options = leptos_options()?;
            let addr = addr.unwrap_or(options.site_addr);
            commands::serve(config, options, addr, migrate).await?;
        }
        Command::Worker => commands::worker(config, leptos_options()?).await?,
        Command::BotSim(_) | Command::Migrate { .. } | Command::Precompress { .. } => {
            return Err(CommandError::Other(
                "bot-sim, migrate and precompress run before the full configuration is read".into(),
            ))
        }
        Command::Config { command: ConfigCommand::Check } => {
            print!("{}", commands::describe_config(&config));
            match commands::check_platforms_report(&config).await {
                Ok(report) => {
                    print!("{report}");
                    println!("configuration is valid");
                }
                Err(report) => {
                    print!("{report}");
                    eprintln!("configuration check failed: a platform in PLATFORM_PRIORITY cannot run (above)");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

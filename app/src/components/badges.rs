//! Small labels: bot status (coloured, pulsing while active), meeting platform, infrastructure.

use leptos::prelude::*;

use crate::model::bot::{BotStatus, MeetingPlatform, QueueInfo};
use crate::model::platform::DeploymentPlatform;

/// Tailwind classes of a status badge.
pub fn status_classes(s: BotStatus) -> &'static str {
    match s {
        BotStatus::Scheduled => "bg-slate-100 text-slate-700 ring-slate-300",
        BotStatus::Queued => "bg-amber-50 text-amber-800 ring-amber-300",
        BotStatus::Deploying => "bg-sky-50 text-sky-800 ring-sky-300",
        BotStatus::JoiningCall | BotStatus::InWaitingRoom => "bg-indigo-50 text-indigo-800 ring-indigo-300",
        BotStatus::InCall => "bg-emerald-50 text-emerald-800 ring-emerald-300",
        BotStatus::Leaving | BotStatus::CallEnded => "bg-violet-50 text-violet-800 ring-violet-300",
        BotStatus::Done => "bg-slate-100 text-slate-600 ring-slate-300",
        BotStatus::Fatal => "bg-red-50 text-red-700 ring-red-300",
    }
}

/// A bot's status; a dot pulses while the bot is deploying or in a call.
#[component]
pub fn StatusBadge(status: BotStatus) -> impl IntoView {
    let live = status.is_active() || status == BotStatus::Queued;
    view! {
        <span
            data-testid="status"
            data-status=status.as_str()
            class=format!(
                "inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}",
                status_classes(status),
            )
        >
            <span class=if live {
                "h-1.5 w-1.5 animate-pulse rounded-full bg-current"
            } else {
                "h-1.5 w-1.5 rounded-full bg-current opacity-50"
            } />
            {status.label()}
        </span>
    }
}

/// The meeting platform with a coloured mark.
#[component]
pub fn PlatformLabel(platform: MeetingPlatform) -> impl IntoView {
    let (mark, colour) = match platform {
        MeetingPlatform::GoogleMeet => ("G", "bg-emerald-500"),
        MeetingPlatform::MicrosoftTeams => ("T", "bg-indigo-500"),
        MeetingPlatform::Zoom => ("Z", "bg-sky-500"),
    };
    view! {
        <span class="inline-flex items-center gap-2 whitespace-nowrap">
            <span class=format!(
                "grid h-5 w-5 place-items-center rounded text-[10px] font-bold text-white {colour}",
            )>{mark}</span>
            {platform.label()}
        </span>
    }
}

/// Where a bot runs; empty until deployed.
#[component]
pub fn InfraBadge(platform: Option<DeploymentPlatform>) -> impl IntoView {
    platform.map(|p| {
        view! {
            <span class="rounded bg-slate-800 px-1.5 py-0.5 text-[11px] font-semibold tracking-wide text-white">
                {p.label()}
            </span>
        }
    })
}

/// "~40 s", "~3 min", "~1 h 20 min": an estimated wait, rounded as people say it.
pub fn approx_wait(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    match s {
        0..=59 => format!("~{s} s"),
        60..=3599 => format!("~{} min", s.div_ceil(60)),
        _ => format!("~{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Where a QUEUED bot stands: "#3 · ~2 min" (why it waits on hover).
#[component]
pub fn QueueNote(queue: Option<QueueInfo>) -> impl IntoView {
    queue.map(|q| {
        let eta = q.estimated_wait_ms.map_or_else(|| "no estimate yet".to_owned(), approx_wait);
        let why = q.waiting_on.clone().unwrap_or_else(|| "Waiting for a platform".to_owned());
        view! {
            <span class="ml-2 whitespace-nowrap text-xs text-amber-800" data-testid="queue-position" title=why>
                {format!("#{} · {eta}", q.position)}
            </span>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::approx_wait;

    #[test]
    fn waits_are_rounded_up_as_people_say_them() {
        assert_eq!(approx_wait(0), "~0 s");
        assert_eq!(approx_wait(1_500), "~2 s");
        assert_eq!(approx_wait(59_000), "~59 s");
        assert_eq!(approx_wait(61_000), "~2 min");
        assert_eq!(approx_wait(3_600_000), "~1 h 0 min");
        assert_eq!(approx_wait(4_830_000), "~1 h 20 min");
    }
}

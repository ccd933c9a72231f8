//! `/templates`: message templates (a name and variations) and the broadcast dialog that sends
//! a template (one random variation per bot) or a text to chosen live bots.

use leptos::prelude::*;

use crate::components::live::{use_live, Loaded};

use crate::api::bots::list_bots;
use crate::api::templates::{delete_template, list_templates, save_template, send_chat_message};
use crate::components::dialog::{Confirm, Dialog};
use crate::components::protected::RequireUser;
use crate::components::time::{now, relative};
use crate::components::ui::{EmptyState, ErrorText, PageHeader, BUTTON, BUTTON_SECONDARY, INPUT, TD, TH};
use crate::model::bot::{BotFilter, Page};
use crate::model::error::AppError;
use crate::model::template::{MessageTemplate, SendChat, TemplateInput};

/// `/templates`.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let templates = use_live(move || refresh.get(), |_| list_templates());
    view! { <RequireUser children=move |_| view! { <TemplatesView refresh templates /> } /> }
}

#[component]
fn TemplatesView(
    refresh: RwSignal<u32>,
    templates: Signal<Option<Result<Page<MessageTemplate>, AppError>>>,
) -> impl IntoView {
    let editing = RwSignal::new(None::<Option<MessageTemplate>>);
    let deleting = RwSignal::new(None::<MessageTemplate>);
    let broadcasting = RwSignal::new(false);
    let remove = Action::new(|id: &i64| delete_template(*id));
    Effect::new(move |_| {
        if remove.value().get().is_some() {
            deleting.set(None);
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <PageHeader title="Message Templates" subtitle="Chat messages your bots can send during a call.">
            <button type="button" class=BUTTON_SECONDARY on:click=move |_| broadcasting.set(true)>
                "Broadcast"
            </button>
            <button type="button" class=BUTTON on:click=move |_| editing.set(Some(None))>
                "Create Template"
            </button>
        </PageHeader>
        <div class="mt-4">
            <Loaded
                data=templates
                fallback=|| {
                    view! { <p class="text-sm text-slate-500">"Loading templates…"</p> }
                }
                let:loaded
            >
                {match loaded {
                    Ok(page) if page.data.is_empty() => {
                        view! {
                            <EmptyState
                                title="No templates yet"
                                text="A template holds variations of a message; each bot sends one of them at random."
                            />
                        }
                            .into_any()
                    }
                    Ok(page) => {
                        let n = now();
                        view! {
                            <div class="overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
                                <table class="min-w-full">
                                    <thead class="bg-slate-50">
                                        <tr>
                                            <th class=TH>"Template Name"</th>
                                            <th class=TH>"Variations"</th>
                                            <th class=TH>"Preview"</th>
                                            <th class=TH>"Created"</th>
                                            <th class=TH>"Actions"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {page
                                            .data
                                            .into_iter()
                                            .map(|t| {
                                                let (for_edit, for_delete) = (t.clone(), t.clone());
                                                view! {
                                                    <tr class="border-t border-slate-100" data-testid="template-row">
                                                        <td class=format!(
                                                            "{TD} font-medium text-slate-900",
                                                        )>{t.template_name.clone()}</td>
                                                        <td class=TD>{t.messages.len()}</td>
                                                        <td class=format!(
                                                            "{TD} max-w-xs truncate",
                                                        )>{t.messages.first().cloned().unwrap_or_default()}</td>
                                                        <td class=TD>{relative(t.created_at, n)}</td>
                                                        <td class=format!("{TD} space-x-3 whitespace-nowrap")>
                                                            <button
                                                                type="button"
                                                                class="text-sm font-medium text-indigo-600"
                                                                on:click=move |_| editing.set(Some(Some(for_edit.clone())))
                                                            >
                                                                "Edit"
                                                            </button>
                                                            <button
                                                                type="button"
                                                                class="text-sm font-medium text-red-600"
                                                                on:click=move |_| deleting.set(Some(for_delete.clone()))
                                                            >
                                                                "Delete"
                                                            </button>
                                                        </td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </div>
        {move || {
            editing
                .get()
                .map(|current| {
                    view! {
                        <TemplateDialog
                            current
                            on_close=Callback::new(move |()| editing.set(None))
                            on_saved=Callback::new(move |()| {
                                editing.set(None);
                                refresh.update(|n| *n += 1);
                            })
                        />
                    }
                })
        }}
        {move || {
            deleting
                .get()
                .map(|t| {
                    let id = t.id;
                    view! {
                        <Confirm
                            title="Delete template".to_owned()
                            message=format!("Delete \"{}\"? Messages already queued are kept.", t.template_name)
                            confirm_label="Delete".to_owned()
                            pending=remove.pending()
                            on_confirm=Callback::new(move |()| {
                                remove.dispatch(id);
                            })
                            on_cancel=Callback::new(move |()| deleting.set(None))
                        />
                    }
                })
        }}
        <Show when=move || broadcasting.get()>
            <BroadcastDialog on_close=Callback::new(move |()| broadcasting.set(false)) />
        </Show>
    }
}

#[component]
fn TemplateDialog(current: Option<MessageTemplate>, on_close: Callback<()>, on_saved: Callback<()>) -> impl IntoView {
    let id = current.as_ref().map(|t| t.id);
    let title = if id.is_some() { "Edit Message Template" } else { "Create Message Template" };
    let name = RwSignal::new(current.as_ref().map(|t| t.template_name.clone()).unwrap_or_default());
    let variations = RwSignal::new(current.map(|t| t.messages).unwrap_or_else(|| vec![String::new()]));
    let save = Action::new(move |input: &TemplateInput| save_template(id, input.clone()));
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            on_saved.run(());
        }
    });
    view! {
        <Dialog title=Signal::stored(title.to_owned()) on_close>
            <form
                class="space-y-4"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save.dispatch(TemplateInput {
                        template_name: name.get_untracked(),
                        messages: variations.get_untracked(),
                    });
                }
            >
                <div>
                    <label for="template-name" class="block text-sm font-medium text-slate-700">
                        "Template Name"
                    </label>
                    <input
                        id="template-name"
                        required=true
                        class=format!("mt-1 {INPUT}")
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </div>
                <fieldset class="space-y-2">
                    <legend class="text-sm font-medium text-slate-700">"Message Variations"</legend>
                    {move || {
                        (0..variations.with(Vec::len))
                            .map(|i| {
                                view! {
                                    <div class="flex gap-2">
                                        <input
                                            aria-label=format!("Variation {}", i + 1)
                                            class=INPUT
                                            prop:value=move || {
                                                variations.with(|v| v.get(i).cloned().unwrap_or_default())
                                            }
                                            on:input=move |ev| {
                                                let text = event_target_value(&ev);
                                                variations
                                                    .update(|v| {
                                                        if let Some(x) = v.get_mut(i) {
                                                            *x = text;
                                                        }
                                                    })
                                            }
                                        />
                                        <button
                                            type="button"
                                            class=BUTTON_SECONDARY
                                            disabled=move || variations.with(Vec::len) <= 1
                                            on:click=move |_| {
                                                variations
                                                    .update(|v| {
                                                        if i < v.len() {
                                                            v.remove(i);
                                                        }
                                                    })
                                            }
                                        >
                                            "Remove"
                                        </button>
                                    </div>
                                }
                            })
                            .collect_view()
                    }}
                    <button
                        type="button"
                        class=BUTTON_SECONDARY
                        on:click=move |_| variations.update(|v| v.push(String::new()))
                    >
                        "Add variation"
                    </button>
                </fieldset>
                {move || {
                    save.value().get().and_then(Result::err).map(|e| view! { <ErrorText message=e.to_string() /> })
                }}
                <div class="flex justify-end">
                    <button type="submit" class=BUTTON disabled=move || save.pending().get()>
                        "Save"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

#[component]
fn BroadcastDialog(on_close: Callback<()>) -> impl IntoView {
    let templates = use_live(|| (), |_| list_templates());
    let bots = use_live(
        || (),
        |_| {
            list_bots(BotFilter {
                page_size: 100,
                status: Some("SCHEDULED,QUEUED,DEPLOYING,JOINING_CALL,IN_WAITING_ROOM,IN_CALL".into()),
                ..BotFilter::default()
            })
        },
    );
    let template_id = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<i64>::new());
    let send = Action::new(|s: &SendChat| send_chat_message(s.clone()));
    view! {
        <Dialog title=Signal::stored("Broadcast".to_owned()) on_close>
            <form
                class="space-y-4"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let tid = template_id.get_untracked().parse::<i64>().ok();
                    send.dispatch(SendChat {
                        bot_ids: chosen.get_untracked(),
                        template_id: tid,
                        message_text: if tid.is_some() { None } else { Some(text.get_untracked()) },
                    });
                }
            >
                <div>
                    <label for="broadcast-template" class="block text-sm font-medium text-slate-700">
                        "Template"
                    </label>
                    <select
                        id="broadcast-template"
                        class=format!("mt-1 {INPUT}")
                        on:change=move |ev| template_id.set(event_target_value(&ev))
                    >
                        <option value="">"Select a message template..."</option>
                        {move || {
                            templates
                                .get()
                                .and_then(Result::ok)
                                .map(|p| {
                                    p.data
                                        .into_iter()
                                        .map(|t| {
                                            view! { <option value=t.id.to_string()>{t.template_name}</option> }
                                        })
                                        .collect_view()
                                })
                        }}
                    </select>
                </div>
                <Show when=move || template_id.get().is_empty()>
                    <textarea
                        aria-label="Message"
                        maxlength="1000"
                        placeholder="Type your broadcast message..."
                        class=INPUT
                        on:input=move |ev| text.set(event_target_value(&ev))
                    />
                </Show>
                <fieldset>
                    <legend class="text-sm font-medium text-slate-700">"Recipients"</legend>
                    {move || {
                        bots.get()
                            .and_then(Result::ok)
                            .map(|p| {
                                if p.data.is_empty() {
                                    return view! {
                                        <p class="mt-1 text-sm text-slate-500">"No live bots to send to."</p>
                                    }
                                        .into_any();
                                }
                                p.data
                                    .into_iter()
                                    .map(|b| {
                                        let id = b.id;
                                        view! {
                                            <label class="mt-1 flex items-center gap-2 text-sm">
                                                <input
                                                    type="checkbox"
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        chosen
                                                            .update(|c| {
                                                                c.retain(|x| *x != id);
                                                                if on {
                                                                    c.push(id);
                                                                }
                                                            })
                                                    }
                                                />
                                                {format!("{} #{} ({})", b.display_name, b.id, b.status.label())}
                                            </label>
                                        }
                                    })
                                    .collect_view()
                                    .into_any()
                            })
                    }}
                </fieldset>
                {move || {
                    send.value()
                        .get()
                        .map(|r| match r {
                            Ok(r) => {
                                view! {
                                    <p role="status" class="text-sm text-emerald-700">
                                        {format!("Queued for {} bot(s); {} failed.", r.succeeded.len(), r.failed.len())}
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                        })
                }}
                <div class="flex justify-end">
                    <button
                        type="submit"
                        class=BUTTON
                        disabled=move || send.pending().get() || chosen.with(Vec::is_empty)
                    >
                        "Send"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

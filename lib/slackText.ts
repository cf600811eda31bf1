// Slack mrkdwn built from untrusted values. Slack reads `<…>` as a control sequence (`<!channel>`
// pings everyone, `<https://evil|fly.io>` is a disguised link, `<@U…>` pings a person), so every
// value put into Slack text has its &, < and > escaped (Slack's own rule, code blocks included).
// Only Flightdeck's own markup (a mention of a verified user id, a link it made) stays unescaped:
// build it with slackMention / slackLink, and compose with the `slack` template tag.

/** Text that is already Slack mrkdwn: Flightdeck's own markup with every value escaped. */
export class SlackText {
  constructor(readonly mrkdwn: string) {}
  toString(): string {
    return this.mrkdwn;
  }
}

/** Escapes &, < and > as Slack asks; the text then shows as it is, whatever it holds. */
export function escapeSlack(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A template tag: the literal parts are Flightdeck's markup; every interpolated value is escaped, unless it is SlackText. */
export function slack(strings: TemplateStringsArray, ...values: unknown[]): SlackText {
  let text = strings[0]!;
  values.forEach((value, i) => {
    text += (value instanceof SlackText ? value.mrkdwn : escapeSlack(value ?? '')) + strings[i + 1]!;
  });
  return new SlackText(text);
}

/** Joins pieces of Slack text (each escaped unless already SlackText). */
export function joinSlack(parts: readonly unknown[], separator: string): SlackText {
  return new SlackText(parts.map((p) => (p instanceof SlackText ? p.mrkdwn : escapeSlack(p))).join(escapeSlack(separator)));
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** A Slack user id renders as a mention; any other actor (ci-bot, a CLI user, a token name) as escaped text. */
export function slackMention(actor: string): SlackText {
  return new SlackText(SLACK_USER_ID.test(actor) ? `<@${actor}>` : escapeSlack(actor));
}

/** A link Flightdeck makes (e.g. to the Temporal UI); the label is escaped, the URL must be http(s). */
export function slackLink(url: string, label: string): SlackText {
  if (!/^https?:\/\/[^\s<>|]+$/.test(url)) return new SlackText(escapeSlack(label));
  return new SlackText(`<${url.replace(/&/g, '&amp;')}|${escapeSlack(label).replace(/\|/g, '¦')}>`);
}

/**
 * How the local provider sends confirmation mail. Gaia ships no SMTP client: the development mailer writes
 * the message (link and code) to the log, which is how a self-hoster confirms accounts on a machine without
 * mail. An operator who needs real delivery passes another `Mailer` to `createAuthApp`.
 */
import type { Logger } from '../../../src/log.ts';

export interface ConfirmationMail {
  to: string;
  /** Absolute link under WEB_SERVICE_BASE_URL; never derived from a request. */
  link: string;
  /** The six-digit code, for clients that type it instead of following the link. */
  code: string;
}

export interface Mailer {
  sendConfirmation(mail: ConfirmationMail): Promise<void>;
}

export function devMailer(log: Logger): Mailer {
  return {
    async sendConfirmation(mail) {
      log.info('confirmation email (development mailer: not sent, logged instead)', {
        to: mail.to,
        link: mail.link,
        code: mail.code,
      });
    },
  };
}

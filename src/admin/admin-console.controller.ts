import { Body, Controller, Get, Header, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../auth/auth.decorators.js';
import { AuthService } from '../auth/auth.service.js';
import { AppException } from '../core/errors/index.js';
import { correlationIdOf } from '../observability/correlation.js';
import { cspNonceFor } from '../security/csp/security-headers.js';
import { LogoutFormBody, RestartFormBody } from './admin.dto.js';
import { renderIncident } from './console/incident-view.js';
import { consoleWindow, IncidentService } from './incident.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { AdminService } from './admin.service.js';
import { AuditLogService } from './audit-log.service.js';
import { renderConsole } from './console/render.js';

// Fixed texts: nothing from the query string is reflected into the page.
const FLASH: Record<string, string> = {
  started: 'Rolling restart started.',
  RESTART_BLOCKED: 'Restart refused (churn policy, or no cluster supervisor with WORKERS=1): see the audit log. When blocked by churn, tick the override box and give a reason.',
  failed: 'Restart failed; see the audit log and the service logs.',
};

@ApiExcludeController()
@RequireRole('admin')
@Controller('admin')
export class AdminConsoleController {
  constructor(
    private readonly admin: AdminService,
    private readonly audit: AuditLogService,
    private readonly auth: AuthService,
    private readonly incident: IncidentService,
    @Inject(RUNTIME) private readonly runtime: Runtime,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async console(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @CurrentUser() user: AuthenticatedUser,
    @Query('flash') flash?: string,
    @Query('minutes') minutes?: string,
  ): Promise<string> {
    const window = consoleWindow(minutes);
    const [system, workers, audit, incident] = await Promise.all([
      this.admin.systemStatus(),
      this.admin.workerStatus(),
      // The console must open while the database is degraded (that is when it is needed), and
      // say that the audit log could not be read rather than show an empty one.
      this.audit.list(20, null).then(
        (entries) => ({ entries, error: null }),
        (error: unknown) => ({ entries: [], error: describeFailure(error) }),
      ),
      this.incident.model(window),
    ]);
    // Stored before the page goes out: a token no stored session backs would fail every post.
    const csrfToken = await this.auth.csrfToken(req, res);
    return renderConsole({
      incidentHtml: renderIncident(incident),
      minutes: window,
      grafanaUrl: this.runtime.config.app.grafanaUrl,
      // After the last await: an error answered instead of the page keeps the API headers.
      nonce: cspNonceFor(res) ?? '',
      csrfToken,
      username: user.username,
      state: { system, workers, audit: audit.entries, auditError: audit.error },
      flash: flash !== undefined ? (FLASH[flash] ?? null) : null,
    });
  }

  /** The incident part alone (status strip, charts, recent lines): what the page refreshes with. */
  @Get('incident')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async incidentFragment(@Res({ passthrough: true }) res: Response, @Query('minutes') minutes?: string): Promise<string> {
    const html = renderIncident(await this.incident.model(consoleWindow(minutes)));
    // Parsed by the console, never run, but HTML: it carries the document policy like any page.
    cspNonceFor(res);
    return html;
  }

  /** The console's sign-out button: a form post (CSRF-checked like every post), then the login page. */
  @Post('logout')
  @HttpCode(303)
  async logout(@Body() _body: LogoutFormBody, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.logout(req, res);
    res.setHeader('Location', '/login');
  }

  /** The form's no-JavaScript path: same service, answered with a redirect back to the console. */
  @Post('worker/restart')
  @HttpCode(303)
  async restart(@Body() body: RestartFormBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    let flash = 'started';
    try {
      await this.admin.restart({
        reason: body.reason,
        acknowledgeOverride: body.acknowledgeOverride === true,
        actor: { id: user.id, username: user.username },
        correlationId: correlationIdOf(req),
      });
    } catch (error) {
      flash = error instanceof AppException && FLASH[error.code] ? error.code : 'failed';
    }
    res.setHeader('Location', `/admin?flash=${flash}`);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof AppException) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Who may do what in the KB: the caller's own view (`/me`, `/access`), teams, workspaces and shares. The
 * decisions and bodies live in the access feature; these routes only carry HTTP in and out.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { callerOf, type KbContext } from '../context.ts';

const noContent = () => new Response(null, { status: 204 });

export function rbacRoutes(ctx: KbContext) {
  const { rbac } = ctx;
  const P = '/api/v1/kb';
  return (
    new Elysia({ name: 'kb-rbac' })
      .use(ctx.kernel)
      .get(`${P}/me`, async ({ identity }) => jsonResponse(await rbac.me(callerOf(identity))))
      .get(`${P}/access`, async ({ identity, query }) =>
        jsonResponse(await rbac.accessOf(callerOf(identity), query.path ?? '/')),
      )
      // Teams
      .post(`${P}/teams`, async ({ identity, body }) =>
        jsonResponse(await rbac.createTeam(callerOf(identity), body), 201),
      )
      .get(`${P}/teams`, async ({ identity, query }) =>
        jsonResponse(await rbac.listTeams(callerOf(identity), { all: query.all })),
      )
      .get(`${P}/teams/:name`, async ({ identity, params }) =>
        jsonResponse(await rbac.getTeam(callerOf(identity), params.name)),
      )
      .patch(`${P}/teams/:name`, async ({ identity, params, body }) =>
        jsonResponse(await rbac.updateTeam(callerOf(identity), params.name, body)),
      )
      .delete(`${P}/teams/:name`, async ({ identity, params }) => {
        await rbac.deleteTeam(callerOf(identity), params.name);
        return noContent();
      })
      .post(`${P}/teams/:name/members`, async ({ identity, params, body }) =>
        jsonResponse(await rbac.addTeamMember(callerOf(identity), params.name, body), 201),
      )
      .patch(`${P}/teams/:name/members/:user`, async ({ identity, params, body }) =>
        jsonResponse(await rbac.updateTeamMember(callerOf(identity), params.name, params.user, body)),
      )
      .delete(`${P}/teams/:name/members/:user`, async ({ identity, params }) => {
        await rbac.removeTeamMember(callerOf(identity), params.name, params.user);
        return noContent();
      })
      // Workspaces
      .post(`${P}/workspaces`, async ({ identity, body }) =>
        jsonResponse(await rbac.createWorkspace(callerOf(identity), body), 201),
      )
      .get(`${P}/workspaces`, async ({ identity, query }) =>
        jsonResponse(await rbac.listWorkspaces(callerOf(identity), { all: query.all })),
      )
      .get(`${P}/workspaces/:name`, async ({ identity, params }) =>
        jsonResponse(await rbac.getWorkspace(callerOf(identity), params.name)),
      )
      .patch(`${P}/workspaces/:name`, async ({ identity, params, body }) =>
        jsonResponse(await rbac.updateWorkspace(callerOf(identity), params.name, body)),
      )
      .post(`${P}/workspaces/:name/members`, async ({ identity, params, body }) =>
        jsonResponse(await rbac.addWorkspaceMember(callerOf(identity), params.name, body), 201),
      )
      .delete(`${P}/workspaces/:name/members/:user`, async ({ identity, params }) => {
        await rbac.removeWorkspaceMember(callerOf(identity), params.name, params.user);
        return noContent();
      })
      // Shares
      .post(`${P}/shares`, async ({ identity, body }) =>
        jsonResponse(await rbac.createShares(callerOf(identity), body), 201),
      )
      .post(`${P}/share`, async ({ identity, body }) =>
        jsonResponse(await rbac.createShares(callerOf(identity), body), 201),
      )
      .get(`${P}/shares`, async ({ identity, query }) =>
        jsonResponse(
          await rbac.listShares(callerOf(identity), {
            direction: query.direction,
            path: query.path,
          }),
        ),
      )
      .delete(`${P}/shares/:id`, async ({ identity, params }) => {
        await rbac.deleteShare(callerOf(identity), params.id);
        return noContent();
      })
  );
}

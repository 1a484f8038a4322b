import { ApiError, errorFromBody } from '../src/api';
import { fakeServer, makeJob } from './fixtures';

describe('JobsClient', () => {
  it('calls the routes of the server extension under the base URL', async () => {
    const job = makeJob();
    const { client, requests } = fakeServer(({ method, path }) => {
      if (method === 'GET' && path === 'jobs') {
        return {
          status: 200,
          body: { jobs: [job], total: 1, next_offset: null }
        };
      }
      if (path === 'sites') {
        return { status: 200, body: { sites: [{ name: 'local' }] } };
      }
      return { status: 200, body: job };
    });
    const list = await client.listJobs({ user: 'bob' });
    expect(list.jobs[0].id).toBe(job.id);
    await client.getJob('ab/c');
    await client.cancel(job.id);
    await client.rerun(job.id, 'local');
    await client.rerun(job.id);
    await client.log(job.id, 120, 3);
    await client.log(job.id, 0);
    expect(await client.sites()).toEqual([{ name: 'local' }]);
    await client.plan({ path: 'a.ipynb' });
    await client.submit({ path: 'a.ipynb', client_request_id: 'r1' });
    await client.whoami();

    const seen = requests.map(r => `${r.method} ${r.path}`);
    expect(seen).toEqual([
      'GET jobs',
      'GET jobs/ab%2Fc',
      `DELETE jobs/${job.id}`,
      `POST jobs/${job.id}/rerun`,
      `POST jobs/${job.id}/rerun`,
      `GET jobs/${job.id}/log`,
      `GET jobs/${job.id}/log`,
      'GET sites',
      'POST plan',
      'POST jobs',
      'GET whoami'
    ]);
    expect(requests[0].query.get('user')).toBe('bob');
    expect(requests[0].query.get('limit')).toBe('200');
    expect(requests[3].body).toEqual({ site: 'local' });
    expect(requests[4].body).toEqual({});
    expect(requests[5].query.get('offset')).toBe('120');
    expect(requests[5].query.get('completion_index')).toBe('3');
    expect(requests[6].query.has('completion_index')).toBe(false);
    expect(requests[9].body).toEqual({
      path: 'a.ipynb',
      client_request_id: 'r1'
    });
  });

  it("throws the server's own words, status and field", async () => {
    const words =
      "resources.cpu: expected a number of cores such as 2 or 0.5, or millicores such as 500m, got 'x'";
    const { client } = fakeServer(() => ({
      status: 400,
      body: { error: words, status: 400, field: 'resources.cpu' }
    }));
    const error = await client.plan({ path: 'a.ipynb' }).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe(words);
    expect(error.status).toBe(400);
    expect(error.field).toBe('resources.cpu');
    expect(error.serverGone).toBe(false);
  });

  it('tells a server that is gone from an error of the jobs API', async () => {
    const { client } = fakeServer(() => 'network-error');
    const unreachable = await client.whoami().catch(e => e);
    expect(unreachable.status).toBe(0);
    expect(unreachable.serverGone).toBe(true);
    expect(unreachable.message).toMatch(/cannot be reached/);

    const hub = fakeServer(() => ({
      status: 424,
      text: '<html>server not running</html>'
    }));
    expect((await hub.client.whoami().catch(e => e)).serverGone).toBe(true);

    const busy = fakeServer(() => ({
      status: 503,
      body: {
        error: 'the jobs service is still starting; try again',
        status: 503
      }
    }));
    const starting = await busy.client.whoami().catch(e => e);
    expect(starting.serverGone).toBe(false);
    expect(starting.message).toBe(
      'the jobs service is still starting; try again'
    );
  });

  it('explains a missing server extension and non-JSON answers', () => {
    expect(errorFromBody(404, '<html>404</html>').message).toMatch(
      /server extension is not enabled/
    );
    expect(errorFromBody(502, 'Bad Gateway').message).toBe(
      'The server answered 502: Bad Gateway'
    );
    expect(errorFromBody(500, { message: 'Internal' }).message).toBe(
      'Internal'
    );
  });
});

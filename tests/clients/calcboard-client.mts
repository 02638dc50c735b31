// A small program against the real API through a typed client: types generated from the live
// OpenAPI document by openapi-typescript (schema.d.ts), calls made with openapi-fetch, the
// whole compiled with tsc --strict (tests/project/test_typescript_client.py). It prints what
// it saw as one JSON line for the test to check.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type CalculationDetail = components["schemas"]["CalculationDetailOut"];
type ErrorOut = components["schemas"]["ErrorOut"];

const baseUrl = process.env.CALCBOARD_URL;
const token = process.env.CALCBOARD_TOKEN;
if (!baseUrl || !token) {
  throw new Error("set CALCBOARD_URL and CALCBOARD_TOKEN");
}
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

function fail(what: string, error: ErrorOut | undefined, status: number): never {
  throw new Error(`${what}: ${status} ${JSON.stringify(error)}`);
}

async function main(): Promise<void> {
  const created = await client.POST("/api/calculations", {
    body: { date_start: "2024-01-01", date_fin: "2024-01-31", lag: 7, name: "typed client" },
    params: { header: { "Idempotency-Key": "typescript-1" } },
  });
  if (!created.data) fail("create", created.error, created.response.status);
  const id: number = created.data.id;

  const page = await client.GET("/api/calculations", {
    params: { query: { page_size: 5, status: ["queued", "running", "finished"], ordering: "-launched_at" } },
  });
  if (!page.data) fail("list", page.error, page.response.status);

  const detail = await client.GET("/api/calculations/{id}", {
    params: { path: { id }, query: { fields: ["name", "-result"] } },
  });
  if (!detail.data) fail("detail", detail.error, detail.response.status);
  const shaped: CalculationDetail = detail.data;

  const refused = await client.GET("/api/calculations", { params: { query: { page_size: 0 } } });
  const missing = await client.GET("/api/functions/{id}", { params: { path: { id: 0 } } });

  const fn = await client.POST("/api/functions", { body: { expression: "sin(t)", dt: 1, interval: 1 } });
  if (!fn.data) fail("function create", fn.error, fn.response.status);
  const functions = await client.GET("/api/functions", { params: { query: { search: "SIN", page_size: 100 } } });
  if (!functions.data) fail("function list", functions.error, functions.response.status);

  console.log(
    JSON.stringify({
      created: { id, status: created.response.status, location: created.response.headers.get("Location") },
      list: {
        ids: page.data.results.map((item) => item.id),
        count: page.data.count,
        page: page.data.page,
        page_size: page.data.page_size,
      },
      detail: {
        id: shaped.id,
        name: shaped.name ?? null,
        status: shaped.status,
        error: shaped.error,
        has_result: "result" in shaped,
        launched_at: shaped.launched_at,
      },
      refused: { status: refused.response.status, rules: refused.error?.errors.map((e) => [e.field, e.rule]) ?? [] },
      missing: { status: missing.response.status, rule: missing.error?.errors[0]?.rule ?? null },
      functions: functions.data.results.map((item) => ({ id: item.id, error: item.error })),
      function_id: fn.data.id,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

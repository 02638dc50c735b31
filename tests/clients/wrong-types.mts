// Must NOT compile: tsc --strict refuses a page_size sent as text and a status the API does
// not have (the test proves the generated types are checked, not decoration).
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const client = createClient<paths>({ baseUrl: "http://localhost" });
void client.GET("/api/calculations", { params: { query: { page_size: "5", status: ["lost"] } } });

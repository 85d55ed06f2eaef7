/**
 * Route validation with TypeBox instead of Fastify's default Ajv, whose `removeAdditional` would silently drop
 * unknown properties of a rule instead of naming them. Query strings and params are converted (`limit=10` → 10)
 * and checked; bodies are checked by the handlers (rules also need the semantic checks of rule-validation.ts).
 */
import type { FastifySchemaCompiler } from "fastify";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { Value } from "typebox/value";
import { BadRequest } from "../../errors.ts";

export const typeboxCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  if (httpPart === "body") return (data) => ({ value: data });
  const validator = Compile(schema);
  return (data) => {
    const value = Value.Convert(schema, data);
    if (validator.Check(value)) return { value };
    const problems = validator.Errors(value).map((e) => `${httpPart}${e.instancePath || ""}: ${e.message}`);
    return { error: new BadRequest(problems.join("; ")) };
  };
};

-- Argo CD health check for DetectiveGraph, DetectiveGraphSet, DetectiveMembership and
-- DetectiveOrganizationAdmin (detective.operator.dev). A DetectiveGraphSet is Degraded while a
-- child is Stalled or a child's name is taken, Healthy when every Region's graph is Ready.
-- The same script is embedded in argocd-cm.yaml; tests/packaging/gitops.rs checks that the two agree
-- and runs this file against sample resources when a Lua interpreter is installed.
--
-- Order: suspended > stale (status not yet about the current spec) > Stalled (Degraded)
--        > Ready (Healthy) > Reconciling (Progressing) > Ready=False otherwise (Degraded).
local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function verdict(status, msg)
  return { status = status, message = msg }
end

if obj.spec ~= nil and obj.spec.suspend == true then
  return verdict("Suspended", "spec.suspend is true: the operator makes no AWS calls for this resource")
end

if obj.status == nil then
  return verdict("Progressing", "Waiting for the operator to report status")
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  return verdict("Progressing", "Waiting for the operator to observe generation " .. tostring(generation))
end

-- The first rule whose condition has the given status decides: condition type, its status, the
-- health, and the message when the condition carries none. The last rule is Ready=False with
-- nothing in flight and nothing stalled: e.g. a member whose verification failed.
local rules = {
  { "Stalled", "True", "Degraded", "Stalled" },
  { "Ready", "True", "Healthy", "Ready" },
  { "Reconciling", "True", "Progressing", "Reconciling" },
  { "Ready", "False", "Degraded", "Not ready" },
}
for _, rule in ipairs(rules) do
  local c = condition(obj.status.conditions, rule[1])
  if c ~= nil and c.status == rule[2] then
    return verdict(rule[3], message(c, rule[4]))
  end
end

return verdict("Progressing", "Waiting for the Ready condition")

// Alert rules on the app's telemetry (Log Analytics, workspace-based Application Insights), sent to one action group
// that mails `alertEmailAddress`:
//   sweep failed      an expiry sweep (timer, command line or approved plan) ended with failures, or could not start
//   guard tripped     the mass-deletion guard held a sweep's disables and deletes: review the plan and approve it
//   no sweep          no sweep reported in 26 hours (the timer did not run, or the app is down)
//   5xx answers       the API answered 500 or above
// Each sweep logs its report once, as a trace whose message is a JSON object with "event": "ExpirySweepReport"
// (lifecycle/services/run_record.py); host.json keeps traces out of sampling, so none is dropped. Requests (AppRequests)
// are never sampled either.

@description('Resource id of the Log Analytics workspace the app\'s telemetry goes to.')
param workspaceId string

@description('Azure region of the alert rules.')
param location string

@description('Tags applied to the alert resources.')
param tags object = {}

@description('Prefix of the alert resource names.')
param namePrefix string

@description('Name of the function app (its cloud role name in the telemetry).')
param functionAppName string

@description('Address the action group mails. Empty: the rules fire without a receiver (add one to the action group).')
param alertEmailAddress string = ''

var report = 'AppTraces | where Message has "ExpirySweepReport" | extend report = parse_json(Message) | where tostring(report.event) == "ExpirySweepReport"'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'guestlife'
    enabled: true
    emailReceivers: empty(alertEmailAddress) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    key: 'sweep-failed'
    displayName: 'Guest Lifecycle: an expiry sweep failed'
    description: 'A sweep ended with failures or could not start. GET /api/expiry/runs (or python -m lifecycle runs) shows the run and each guest\'s outcome.'
    severity: 1
    query: '${report} | where tostring(report.outcome) == "failed"'
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT15M'
    window: 'PT15M'
  }
  {
    key: 'guard-tripped'
    displayName: 'Guest Lifecycle: the mass-deletion guard tripped'
    description: 'The guard held a sweep\'s disables and deletes. Review GET /api/expiry/plan and approve it (POST /api/expiry/plan/{planId}/approve), or find why so many guests are due.'
    severity: 2
    query: '${report} | where tostring(report.outcome) == "guard-tripped"'
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT15M'
    window: 'PT15M'
  }
  {
    key: 'no-sweep'
    displayName: 'Guest Lifecycle: no sweep in 26 hours'
    description: 'No expiry sweep reported in 26 hours: the timer did not run or the app is down (EXPIRY_DRY_RUN still reports).'
    severity: 1
    query: '${report} | where TimeGenerated > ago(26h)'
    operator: 'LessThan'
    threshold: 1
    frequency: 'PT1H'
    window: 'P2D'
  }
  {
    key: 'http-5xx'
    displayName: 'Guest Lifecycle: 5xx answers'
    description: 'The API answered 500 or above (Graph or storage unavailable, or a defect). The app\'s traces name the route.'
    severity: 2
    query: 'AppRequests | where AppRoleName =~ "${functionAppName}" | where toint(ResultCode) >= 500'
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT5M'
    window: 'PT5M'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for rule in rules: {
  name: '${namePrefix}-${rule.key}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: rule.operator
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

@description('Resource id of the action group the alert rules notify.')
output actionGroupId string = actionGroup.id

@description('Names of the alert rules.')
output ruleNames array = [for (rule, i) in rules: alertRules[i].name]

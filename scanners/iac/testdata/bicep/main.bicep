// A template with what the ARM checks look at, in the shapes Bicep writes
// them: a nested child resource, a child with parent, a loop, a condition,
// an existing resource, a module, interpolation and a ternary.
@description('Where the resources go.')
param location string = resourceGroup().location
param prefix string = 'tg'
param enableDiagnostics bool = false

var storageName = '${prefix}${uniqueString(resourceGroup().id)}'
var tags = {
  owner: 'platform'
  env: enableDiagnostics ? 'prod' : 'dev'
}

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {
  name: 'central-logs'
}

resource shared 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'shared-vault'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    supportsHttpsTrafficOnly: false
    minimumTlsVersion: 'TLS1_0'
    allowBlobPublicAccess: true
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: '${prefix}-vault'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableSoftDelete: false
    enablePurgeProtection: false
    networkAcls: {
      defaultAction: 'Allow'
    }
    accessPolicies: []
  }

  resource secret 'secrets' = {
    name: 'db-password'
    properties: {
      value: 'not-a-real-secret'
    }
  }
}

resource nsg 'Microsoft.Network/networkSecurityGroups@2023-04-01' = {
  name: '${prefix}-nsg'
  location: location
}

resource ssh 'Microsoft.Network/networkSecurityGroups/securityRules@2023-04-01' = {
  parent: nsg
  name: 'allow-ssh'
  properties: {
    access: 'Allow'
    direction: 'Inbound'
    protocol: 'Tcp'
    sourceAddressPrefix: '*'
    sourcePortRange: '*'
    destinationAddressPrefix: '*'
    destinationPortRange: '22'
    priority: 100
  }
}

resource disks 'Microsoft.Compute/disks@2023-04-02' = [for i in range(0, 2): {
  name: '${prefix}-disk-${i}'
  location: location
  properties: {
    creationData: {
      createOption: 'Empty'
    }
    diskSizeGB: 32
    encryptionSettingsCollection: {
      enabled: false
    }
  }
}]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (enableDiagnostics) {
  name: 'to-logs'
  scope: storage
  properties: {
    workspaceId: logs.id
  }
}

module network './network.bicep' = {
  name: 'network'
  params: {
    location: location
  }
}

output storageId string = storage.id

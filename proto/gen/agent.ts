import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _flotilla_agent_v1_Ack, Ack__Output as _flotilla_agent_v1_Ack__Output } from './flotilla/agent/v1/Ack.js';
import type { AgentGatewayClient as _flotilla_agent_v1_AgentGatewayClient, AgentGatewayDefinition as _flotilla_agent_v1_AgentGatewayDefinition } from './flotilla/agent/v1/AgentGateway.js';
import type { AgentMessage as _flotilla_agent_v1_AgentMessage, AgentMessage__Output as _flotilla_agent_v1_AgentMessage__Output } from './flotilla/agent/v1/AgentMessage.js';
import type { ApiResource as _flotilla_agent_v1_ApiResource, ApiResource__Output as _flotilla_agent_v1_ApiResource__Output } from './flotilla/agent/v1/ApiResource.js';
import type { ArtifactChunk as _flotilla_agent_v1_ArtifactChunk, ArtifactChunk__Output as _flotilla_agent_v1_ArtifactChunk__Output } from './flotilla/agent/v1/ArtifactChunk.js';
import type { Deployment as _flotilla_agent_v1_Deployment, Deployment__Output as _flotilla_agent_v1_Deployment__Output } from './flotilla/agent/v1/Deployment.js';
import type { DeploymentOptions as _flotilla_agent_v1_DeploymentOptions, DeploymentOptions__Output as _flotilla_agent_v1_DeploymentOptions__Output } from './flotilla/agent/v1/DeploymentOptions.js';
import type { DeploymentReport as _flotilla_agent_v1_DeploymentReport, DeploymentReport__Output as _flotilla_agent_v1_DeploymentReport__Output } from './flotilla/agent/v1/DeploymentReport.js';
import type { DesiredState as _flotilla_agent_v1_DesiredState, DesiredState__Output as _flotilla_agent_v1_DesiredState__Output } from './flotilla/agent/v1/DesiredState.js';
import type { FetchArtifactRequest as _flotilla_agent_v1_FetchArtifactRequest, FetchArtifactRequest__Output as _flotilla_agent_v1_FetchArtifactRequest__Output } from './flotilla/agent/v1/FetchArtifactRequest.js';
import type { Heartbeat as _flotilla_agent_v1_Heartbeat, Heartbeat__Output as _flotilla_agent_v1_Heartbeat__Output } from './flotilla/agent/v1/Heartbeat.js';
import type { Hello as _flotilla_agent_v1_Hello, Hello__Output as _flotilla_agent_v1_Hello__Output } from './flotilla/agent/v1/Hello.js';
import type { HubMessage as _flotilla_agent_v1_HubMessage, HubMessage__Output as _flotilla_agent_v1_HubMessage__Output } from './flotilla/agent/v1/HubMessage.js';
import type { InventorySummary as _flotilla_agent_v1_InventorySummary, InventorySummary__Output as _flotilla_agent_v1_InventorySummary__Output } from './flotilla/agent/v1/InventorySummary.js';
import type { ObjectStatus as _flotilla_agent_v1_ObjectStatus, ObjectStatus__Output as _flotilla_agent_v1_ObjectStatus__Output } from './flotilla/agent/v1/ObjectStatus.js';
import type { RegisterRequest as _flotilla_agent_v1_RegisterRequest, RegisterRequest__Output as _flotilla_agent_v1_RegisterRequest__Output } from './flotilla/agent/v1/RegisterRequest.js';
import type { RegisterResponse as _flotilla_agent_v1_RegisterResponse, RegisterResponse__Output as _flotilla_agent_v1_RegisterResponse__Output } from './flotilla/agent/v1/RegisterResponse.js';
import type { Welcome as _flotilla_agent_v1_Welcome, Welcome__Output as _flotilla_agent_v1_Welcome__Output } from './flotilla/agent/v1/Welcome.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  flotilla: {
    agent: {
      v1: {
        Ack: MessageTypeDefinition<_flotilla_agent_v1_Ack, _flotilla_agent_v1_Ack__Output>
        AgentGateway: SubtypeConstructor<typeof grpc.Client, _flotilla_agent_v1_AgentGatewayClient> & { service: _flotilla_agent_v1_AgentGatewayDefinition }
        AgentMessage: MessageTypeDefinition<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_AgentMessage__Output>
        ApiResource: MessageTypeDefinition<_flotilla_agent_v1_ApiResource, _flotilla_agent_v1_ApiResource__Output>
        ArtifactChunk: MessageTypeDefinition<_flotilla_agent_v1_ArtifactChunk, _flotilla_agent_v1_ArtifactChunk__Output>
        Deployment: MessageTypeDefinition<_flotilla_agent_v1_Deployment, _flotilla_agent_v1_Deployment__Output>
        DeploymentOptions: MessageTypeDefinition<_flotilla_agent_v1_DeploymentOptions, _flotilla_agent_v1_DeploymentOptions__Output>
        DeploymentReport: MessageTypeDefinition<_flotilla_agent_v1_DeploymentReport, _flotilla_agent_v1_DeploymentReport__Output>
        DesiredState: MessageTypeDefinition<_flotilla_agent_v1_DesiredState, _flotilla_agent_v1_DesiredState__Output>
        FetchArtifactRequest: MessageTypeDefinition<_flotilla_agent_v1_FetchArtifactRequest, _flotilla_agent_v1_FetchArtifactRequest__Output>
        Heartbeat: MessageTypeDefinition<_flotilla_agent_v1_Heartbeat, _flotilla_agent_v1_Heartbeat__Output>
        Hello: MessageTypeDefinition<_flotilla_agent_v1_Hello, _flotilla_agent_v1_Hello__Output>
        HubMessage: MessageTypeDefinition<_flotilla_agent_v1_HubMessage, _flotilla_agent_v1_HubMessage__Output>
        InventorySummary: MessageTypeDefinition<_flotilla_agent_v1_InventorySummary, _flotilla_agent_v1_InventorySummary__Output>
        ObjectStatus: MessageTypeDefinition<_flotilla_agent_v1_ObjectStatus, _flotilla_agent_v1_ObjectStatus__Output>
        Phase: EnumTypeDefinition
        RegisterRequest: MessageTypeDefinition<_flotilla_agent_v1_RegisterRequest, _flotilla_agent_v1_RegisterRequest__Output>
        RegisterResponse: MessageTypeDefinition<_flotilla_agent_v1_RegisterResponse, _flotilla_agent_v1_RegisterResponse__Output>
        Welcome: MessageTypeDefinition<_flotilla_agent_v1_Welcome, _flotilla_agent_v1_Welcome__Output>
      }
    }
  }
}


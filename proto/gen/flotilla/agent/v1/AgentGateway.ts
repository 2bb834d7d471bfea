// Original file: proto/flotilla/agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentMessage as _flotilla_agent_v1_AgentMessage, AgentMessage__Output as _flotilla_agent_v1_AgentMessage__Output } from '../../../flotilla/agent/v1/AgentMessage.js';
import type { ArtifactChunk as _flotilla_agent_v1_ArtifactChunk, ArtifactChunk__Output as _flotilla_agent_v1_ArtifactChunk__Output } from '../../../flotilla/agent/v1/ArtifactChunk.js';
import type { FetchArtifactRequest as _flotilla_agent_v1_FetchArtifactRequest, FetchArtifactRequest__Output as _flotilla_agent_v1_FetchArtifactRequest__Output } from '../../../flotilla/agent/v1/FetchArtifactRequest.js';
import type { HubMessage as _flotilla_agent_v1_HubMessage, HubMessage__Output as _flotilla_agent_v1_HubMessage__Output } from '../../../flotilla/agent/v1/HubMessage.js';
import type { RegisterRequest as _flotilla_agent_v1_RegisterRequest, RegisterRequest__Output as _flotilla_agent_v1_RegisterRequest__Output } from '../../../flotilla/agent/v1/RegisterRequest.js';
import type { RegisterResponse as _flotilla_agent_v1_RegisterResponse, RegisterResponse__Output as _flotilla_agent_v1_RegisterResponse__Output } from '../../../flotilla/agent/v1/RegisterResponse.js';

export interface AgentGatewayClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_HubMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_HubMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_HubMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_HubMessage__Output>;
  
  FetchArtifact(argument: _flotilla_agent_v1_FetchArtifactRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_flotilla_agent_v1_ArtifactChunk__Output>;
  FetchArtifact(argument: _flotilla_agent_v1_FetchArtifactRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_flotilla_agent_v1_ArtifactChunk__Output>;
  fetchArtifact(argument: _flotilla_agent_v1_FetchArtifactRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_flotilla_agent_v1_ArtifactChunk__Output>;
  fetchArtifact(argument: _flotilla_agent_v1_FetchArtifactRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_flotilla_agent_v1_ArtifactChunk__Output>;
  
  Register(argument: _flotilla_agent_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _flotilla_agent_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _flotilla_agent_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _flotilla_agent_v1_RegisterRequest, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _flotilla_agent_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _flotilla_agent_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _flotilla_agent_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _flotilla_agent_v1_RegisterRequest, callback: grpc.requestCallback<_flotilla_agent_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentGatewayHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_flotilla_agent_v1_AgentMessage__Output, _flotilla_agent_v1_HubMessage>;
  
  FetchArtifact: grpc.handleServerStreamingCall<_flotilla_agent_v1_FetchArtifactRequest__Output, _flotilla_agent_v1_ArtifactChunk>;
  
  Register: grpc.handleUnaryCall<_flotilla_agent_v1_RegisterRequest__Output, _flotilla_agent_v1_RegisterResponse>;
  
}

export interface AgentGatewayDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_flotilla_agent_v1_AgentMessage, _flotilla_agent_v1_HubMessage, _flotilla_agent_v1_AgentMessage__Output, _flotilla_agent_v1_HubMessage__Output>
  FetchArtifact: MethodDefinition<_flotilla_agent_v1_FetchArtifactRequest, _flotilla_agent_v1_ArtifactChunk, _flotilla_agent_v1_FetchArtifactRequest__Output, _flotilla_agent_v1_ArtifactChunk__Output>
  Register: MethodDefinition<_flotilla_agent_v1_RegisterRequest, _flotilla_agent_v1_RegisterResponse, _flotilla_agent_v1_RegisterRequest__Output, _flotilla_agent_v1_RegisterResponse__Output>
}
